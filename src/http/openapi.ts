import type { OpenAPIV3 } from 'openapi-types';
import { PAYMENT_STATUSES } from '../domain/payment';
import { toJSONSchema, type ZodType } from 'zod/v4';
import {
  orderCancelledSchema,
  orderCreatedSchema,
  paymentCreatedSchema,
  paymentFailedSchema,
  Subjects,
} from '../events/subjects';

const ref = (kind: 'schemas' | 'responses' | 'headers' | 'parameters', name: string) => ({
  $ref: `#/components/${kind}/${name}`,
});

const requestIdHeader = { 'X-Request-Id': ref('headers', 'RequestId') };
// Only answers the idempotency store keeps can come back replayed; see src/http/idempotency.ts.
const replayableHeaders = { ...requestIdHeader, 'Idempotent-Replayed': ref('headers', 'IdempotentReplayed') };

function errorResponse(description: string, replayable = false): OpenAPIV3.ResponseObject {
  return {
    description,
    headers: replayable ? replayableHeaders : requestIdHeader,
    content: { 'application/json': { schema: ref('schemas', 'Errors') } },
  };
}

const objectId = { type: 'string', pattern: '^[0-9a-fA-F]{24}$', example: '6650c3f2a1b2c3d4e5f60718' } as const;

/** A payload schema of the event contract as JSON Schema, generated from the zod schema the service parses with. */
function payload(schema: ZodType): Record<string, unknown> {
  const { $schema: _, ...json } = toJSONSchema(schema, { target: 'draft-7' }) as Record<string, unknown>;
  return json;
}

/**
 * Consumed and published NATS Streaming subjects, next to the HTTP API, since
 * OpenAPI 3.0 has no place for them. Payloads are JSON; src/events/subjects.ts is the source.
 */
const events = {
  consumed: {
    [Subjects.OrderCreated]: {
      description:
        'An order was placed. The payments service stores its owner, amount (converted to minor units) and currency.',
      payload: payload(orderCreatedSchema),
      example: {
        id: '6650c3f2a1b2c3d4e5f60718',
        version: 0,
        status: 'created',
        userId: 'user-1',
        expiresAt: '2030-01-01T00:15:00.000Z',
        ticket: { id: 'ticket-1', price: 19.99 },
      },
    },
    [Subjects.OrderCancelled]: {
      description:
        'An order was cancelled, whatever the version it carries; a later payment for it is refused with 400 order_cancelled.',
      payload: payload(orderCancelledSchema),
      example: { id: '6650c3f2a1b2c3d4e5f60718', version: 1, ticket: { id: 'ticket-1' } },
    },
  },
  published: {
    [Subjects.PaymentCreated]: {
      description: 'A charge succeeded. Sent at least once (from an outbox); drop duplicates by eventId.',
      payload: payload(paymentCreatedSchema),
      example: {
        eventId: '0b0f5b5e-3c1e-4c49-9a8e-2f7f0c6a1d11',
        id: '6650c3f2a1b2c3d4e5f60719',
        orderId: '6650c3f2a1b2c3d4e5f60718',
        stripeId: 'ch_1Ptest',
        userId: 'user-1',
        amount: 1999,
        currency: 'usd',
      },
    },
    [Subjects.PaymentFailed]: {
      description: 'A charge was declined or refused. Sent at least once; drop duplicates by eventId.',
      payload: payload(paymentFailedSchema),
      example: {
        eventId: '5c6d7e8f-1a2b-4c3d-8e9f-0a1b2c3d4e5f',
        id: '6650c3f2a1b2c3d4e5f60719',
        orderId: '6650c3f2a1b2c3d4e5f60718',
        userId: 'user-1',
        reason: 'Your card was declined.',
      },
    },
  },
};

/** The HTTP API of the service; test/http/openapi.test.ts holds it to the routes the app really has. */
export const openApiDocument: OpenAPIV3.Document & { 'x-events': typeof events } = {
  openapi: '3.0.3',
  info: {
    title: 'Ticketing payments service',
    version: '1.0.0',
    description: [
      'Charges ticketing orders through Stripe and tells the other services over NATS Streaming.',
      '',
      "Every answer carries `X-Request-Id`: the caller's own when it matches `^[A-Za-z0-9._-]{1,128}$`, else a new UUID.",
      'Every error has the ticketing shape `{ "errors": [{ "message", "field"?, "code"? }] }`.',
      '',
      'Events (payload schemas under `x-events`):',
      `- consumed: \`${Subjects.OrderCreated}\`, \`${Subjects.OrderCancelled}\``,
      `- published: \`${Subjects.PaymentCreated}\`, \`${Subjects.PaymentFailed}\``,
    ].join('\n'),
  },
  tags: [
    { name: 'payments', description: 'Charging orders' },
    { name: 'operations', description: 'Health and metrics for the platform' },
    { name: 'docs', description: 'This document and its viewer' },
  ],
  paths: {
    '/api/payments': {
      post: {
        tags: ['payments'],
        operationId: 'createPayment',
        summary: 'Charge an order of the signed-in user',
        description:
          'Authentication is checked before the body is read. With `Idempotency-Key`, a repeat of the same request ' +
          'by the same user replays the first answer (unless it was a 5xx) with `Idempotent-Replayed: true`.',
        security: [{ sessionCookie: [] }, { bearerAuth: [] }],
        parameters: [ref('parameters', 'IdempotencyKey')],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: ref('schemas', 'PaymentRequest') } },
        },
        responses: {
          '201': {
            description: 'The order is paid',
            headers: replayableHeaders,
            content: { 'application/json': { schema: ref('schemas', 'Payment') } },
          },
          '400': errorResponse(
            'Invalid body (one error per field, code `invalid_field`), malformed JSON (`malformed_json`), ' +
              'a bad Idempotency-Key (`invalid_idempotency_key`), a cancelled order (`order_cancelled`) or a card ' +
              'token the provider refuses',
            true,
          ),
          '401': errorResponse('No valid session or Bearer token, or the order belongs to another user', true),
          '402': errorResponse('The card was declined (`card_declined`)', true),
          '404': errorResponse('No such order (yet: it arrives with `order:created`)', true),
          '409': errorResponse(
            'The order already has a payment (`order_already_paid`), or a request with this Idempotency-Key is ' +
              'still running (`idempotency_key_in_use`)',
            true,
          ),
          '413': errorResponse('Body larger than 16 kB (`body_too_large`)'),
          '415': errorResponse('A JSON body in a charset or encoding that is not supported (`bad_request`)'),
          '422': errorResponse('This Idempotency-Key was used with a different request (`idempotency_key_reused`)'),
          '500': errorResponse('Unexpected failure (`internal`)'),
          '503': errorResponse(
            'The payment provider is unreachable (`provider_unavailable`); the payment stays pending and is settled ' +
              'later, so retrying with the same Idempotency-Key is safe',
          ),
        },
      },
    },
    '/api/payments/health': {
      get: {
        tags: ['operations'],
        operationId: 'readiness',
        summary: 'Readiness: are MongoDB and NATS connected',
        responses: {
          '200': {
            description: 'Ready',
            headers: requestIdHeader,
            content: { 'application/json': { schema: ref('schemas', 'Health') } },
          },
          '503': {
            description: 'A dependency is down',
            headers: requestIdHeader,
            content: { 'application/json': { schema: ref('schemas', 'Health') } },
          },
        },
      },
    },
    '/api/payments/health/live': {
      get: {
        tags: ['operations'],
        operationId: 'liveness',
        summary: 'Liveness: the process answers',
        responses: {
          '200': {
            description: 'Alive',
            headers: requestIdHeader,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['status'],
                  properties: { status: { type: 'string', enum: ['ok'] } },
                },
              },
            },
          },
        },
      },
    },
    '/metrics': {
      get: {
        tags: ['operations'],
        operationId: 'metrics',
        summary: 'Prometheus metrics',
        responses: {
          '200': {
            description: 'Prometheus text exposition format 0.0.4',
            headers: requestIdHeader,
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          '500': errorResponse('A gauge read from the database failed (`internal`)'),
        },
      },
    },
    '/api/payments/doc/openapi.json': {
      get: {
        tags: ['docs'],
        operationId: 'openApiDocument',
        summary: 'This document',
        responses: {
          '200': {
            description: 'OpenAPI 3.0 document',
            headers: requestIdHeader,
            content: { 'application/json': { schema: { type: 'object' } } },
          },
        },
      },
    },
    '/api/payments/doc/': {
      get: {
        tags: ['docs'],
        operationId: 'apiDocsPage',
        summary: 'Swagger UI for this document',
        description: 'Its scripts and styles are served next to it, e.g. `/api/payments/doc/swagger-ui-bundle.js`.',
        responses: {
          '200': {
            description: 'HTML page',
            headers: requestIdHeader,
            content: { 'text/html': { schema: { type: 'string' } } },
          },
          '301': {
            description: 'Asked without the trailing slash: redirects to it, so that the page finds its assets',
            headers: { ...requestIdHeader, Location: { schema: { type: 'string' } } },
          },
        },
      },
    },
  },
  components: {
    securitySchemes: {
      sessionCookie: {
        type: 'apiKey',
        in: 'cookie',
        name: 'session',
        description: 'The ticketing session cookie set by the auth service: base64 of `{"jwt": "<HS256 JWT>"}`',
      },
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The same HS256 JWT' },
    },
    parameters: {
      IdempotencyKey: {
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description: 'Makes retries safe: kept per user for IDEMPOTENCY_KEY_TTL_MS (24 h by default)',
        schema: { type: 'string', minLength: 1, maxLength: 255 },
      },
    },
    headers: {
      RequestId: {
        description: 'The id of this request in the logs',
        schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
      },
      IdempotentReplayed: {
        description: 'Present, with `true`, when the answer is a replay of an earlier request with the same key',
        schema: { type: 'string', enum: ['true'] },
      },
    },
    schemas: {
      PaymentRequest: {
        type: 'object',
        required: ['token', 'orderId'],
        properties: {
          token: {
            type: 'string',
            minLength: 1,
            pattern: '\\S',
            description: 'A card token or payment method id from Stripe.js',
            example: 'tok_visa',
          },
          orderId: objectId,
        },
      },
      Payment: {
        type: 'object',
        required: ['id', 'orderId', 'stripeId', 'status', 'amount', 'currency', 'createdAt'],
        additionalProperties: false,
        properties: {
          id: objectId,
          orderId: objectId,
          stripeId: { type: 'string', nullable: true, description: 'The charge id', example: 'ch_1Ptest' },
          status: { type: 'string', enum: [...PAYMENT_STATUSES] },
          amount: { type: 'integer', minimum: 0, description: 'Minor units (cents)', example: 1999 },
          currency: { type: 'string', pattern: '^[a-z]{3}$', example: 'usd' },
          createdAt: { type: 'string', format: 'date-time' },
        },
      },
      Errors: {
        type: 'object',
        required: ['errors'],
        additionalProperties: false,
        properties: {
          errors: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              required: ['message'],
              additionalProperties: false,
              properties: {
                message: { type: 'string' },
                field: { type: 'string' },
                code: { type: 'string' },
              },
            },
          },
        },
      },
      Health: {
        type: 'object',
        required: ['status', 'dependencies'],
        properties: {
          status: { type: 'string', enum: ['ok', 'unavailable'] },
          dependencies: {
            type: 'object',
            required: ['mongo', 'nats'],
            properties: {
              mongo: { type: 'string', enum: ['up', 'down'] },
              nats: { type: 'string', enum: ['up', 'down'] },
            },
          },
        },
      },
    },
  },
  'x-events': events,
};
