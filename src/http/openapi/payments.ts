import type { OpenAPIV3 } from 'openapi-types';
import { PAYMENT_STATUSES, REFUND_REASONS } from '../../domain/payment';
import { errorResponse, jsonResponse, objectId, ref, replayableHeaders } from './common';
import { LAST_SECOND } from '../payments-router';

const auth: OpenAPIV3.SecurityRequirementObject[] = [{ sessionCookie: [] }, { bearerAuth: [] }];
const unixSeconds = { type: 'integer', minimum: 0, maximum: LAST_SECOND, description: 'Unix seconds' } as const;
const listQuery = (name: string, description: string, schema: OpenAPIV3.SchemaObject): OpenAPIV3.ParameterObject => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

/** Paying, and reading payments and their refunds. */
export const paymentPaths: OpenAPIV3.PathsObject = {
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
          'The order already has a payment (`order_already_paid`), or has had 32 that failed ' +
            '(`order_attempts_exhausted`), a request with this Idempotency-Key is ' +
            'still running (`idempotency_key_in_use`), or an admin voided the payment while it was being ' +
            'charged (`payment_voided`)',
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
    get: {
      tags: ['payments'],
      operationId: 'listPayments',
      summary: "The caller's payments (an admin's: everyone's), newest first, in pages",
      description:
        "Stripe's list conventions: `limit` per page, `starting_after` (older than that payment) or " +
        '`ending_before` (newer), `has_more` when more follow.',
      security: auth,
      parameters: [
        listQuery('limit', 'Payments per page', { type: 'integer', minimum: 1, maximum: 100, default: 10 }),
        listQuery('starting_after', 'A payment id: the page holds older payments', objectId),
        listQuery('ending_before', 'A payment id: the page holds newer payments', objectId),
        listQuery('orderId', "The order's payments", objectId),
        listQuery('status', 'Payments in this status', { type: 'string', enum: [...PAYMENT_STATUSES] }),
        listQuery('userId', "One user's payments (an admin's question; others may only name themselves)", {
          type: 'string',
        }),
        listQuery('created[gt]', 'Created after', unixSeconds),
        listQuery('created[gte]', 'Created at or after', unixSeconds),
        listQuery('created[lt]', 'Created before', unixSeconds),
        listQuery('created[lte]', 'Created at or before', unixSeconds),
      ],
      responses: {
        '200': jsonResponse('A page of payments', 'PaymentList'),
        '400': errorResponse('A query parameter out of range, both cursors, or a cursor that is not in the list'),
        '401': errorResponse('No valid session, or a user naming another userId'),
        '500': errorResponse('Unexpected failure (`internal`)'),
      },
    },
  },
  '/api/payments/{id}': {
    get: {
      tags: ['payments'],
      operationId: 'getPayment',
      summary: 'A payment with its amounts, refunds and history: for its payer or an admin',
      security: auth,
      parameters: [ref('parameters', 'PaymentId')],
      responses: {
        '200': jsonResponse('The payment', 'PaymentDetail'),
        '400': errorResponse('Not a payment id (`invalid_field`)'),
        '401': errorResponse("No valid session, or another user's payment"),
        '404': errorResponse('No such payment'),
        '500': errorResponse('Unexpected failure (`internal`)'),
      },
    },
  },
  '/api/payments/{id}/refunds': {
    get: {
      tags: ['refunds'],
      operationId: 'listRefunds',
      summary: "A payment's refunds, oldest first: for its payer or an admin",
      security: auth,
      parameters: [ref('parameters', 'PaymentId')],
      responses: {
        '200': jsonResponse('The refunds', 'RefundList'),
        '400': errorResponse('Not a payment id (`invalid_field`)'),
        '401': errorResponse("No valid session, or another user's payment"),
        '404': errorResponse('No such payment'),
        '500': errorResponse('Unexpected failure (`internal`)'),
      },
    },
  },
};

const timestamp = { type: 'string', format: 'date-time' } as const;
const minor = (description: string) => ({ type: 'integer', minimum: 0, description, example: 1999 }) as const;

export const paymentSchemas: Record<string, OpenAPIV3.SchemaObject> = {
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
  PaymentDetail: {
    type: 'object',
    required: [
      'id',
      'orderId',
      'userId',
      'stripeId',
      'status',
      'amount',
      'amountRefunded',
      'currency',
      'failureReason',
      'declineCode',
      'request',
      'dispute',
      'refunds',
      'history',
      'createdAt',
      'updatedAt',
    ],
    additionalProperties: false,
    properties: {
      id: objectId,
      orderId: { ...objectId, nullable: true, description: 'Null for a payment another service requested by event' },
      userId: { type: 'string' },
      stripeId: { type: 'string', nullable: true, description: 'The charge id' },
      status: { type: 'string', enum: [...PAYMENT_STATUSES] },
      amount: minor('Charged, in minor units'),
      amountRefunded: minor('Refunded so far (succeeded refunds), in minor units'),
      currency: { type: 'string', pattern: '^[a-z]{3}$' },
      failureReason: { type: 'string', nullable: true },
      declineCode: {
        type: 'string',
        nullable: true,
        description: "The provider's reason for a decline",
        example: 'insufficient_funds',
      },
      request: {
        type: 'object',
        nullable: true,
        description: 'Set when another service asked for the payment by event (payment:requested)',
        required: ['id', 'customerId', 'reference', 'description'],
        properties: {
          id: { type: 'string', description: "The asking service's request id" },
          customerId: { type: 'string', nullable: true },
          reference: {
            type: 'object',
            nullable: true,
            required: ['type', 'id'],
            properties: { type: { type: 'string' }, id: { type: 'string' } },
          },
          description: { type: 'string', nullable: true },
        },
      },
      dispute: {
        type: 'object',
        nullable: true,
        description: 'Set when the payer disputed the charge with their bank (a Stripe webhook reported it)',
        required: ['id', 'amount', 'reason', 'at'],
        properties: {
          id: { type: 'string', description: "The provider's dispute", example: 'dp_1Ptest' },
          amount: minor('Disputed, in minor units'),
          reason: { type: 'string', example: 'fraudulent' },
          at: { type: 'string', format: 'date-time' },
        },
      },
      refunds: { type: 'array', items: ref('schemas', 'Refund') },
      history: {
        type: 'array',
        description: 'One entry per change, oldest first',
        items: {
          type: 'object',
          required: ['status', 'at'],
          properties: {
            status: { type: 'string', enum: [...PAYMENT_STATUSES] },
            at: timestamp,
            change: { type: 'string' },
            reason: { type: 'string' },
          },
        },
      },
      createdAt: timestamp,
      updatedAt: timestamp,
    },
  },
  Refund: {
    type: 'object',
    required: [
      'id',
      'paymentId',
      'amount',
      'currency',
      'reason',
      'status',
      'providerId',
      'failureReason',
      'createdAt',
      'updatedAt',
    ],
    properties: {
      id: { type: 'string' },
      paymentId: objectId,
      amount: minor('Minor units'),
      currency: { type: 'string', pattern: '^[a-z]{3}$' },
      reason: { type: 'string', enum: [...REFUND_REASONS] },
      status: { type: 'string', enum: ['pending', 'succeeded', 'failed'] },
      providerId: { type: 'string', nullable: true, description: "The provider's refund id", example: 're_1Ptest' },
      failureReason: { type: 'string', nullable: true },
      createdAt: timestamp,
      updatedAt: timestamp,
    },
  },
  PaymentList: list('PaymentDetail'),
  RefundList: list('Refund'),
};

function list(item: string): OpenAPIV3.SchemaObject {
  return {
    type: 'object',
    required: ['object', 'data', 'has_more', 'url'],
    properties: {
      object: { type: 'string', enum: ['list'] },
      data: { type: 'array', items: ref('schemas', item) },
      has_more: { type: 'boolean' },
      url: { type: 'string' },
    },
  };
}
