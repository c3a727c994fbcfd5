import type { OpenAPIV3 } from 'openapi-types';
import { errorResponse, jsonResponse, ref } from './common';

const adminOnly = 'Admins only: a JWT with `role: "admin"`, or a user id in ADMIN_USER_IDS.';
const security: OpenAPIV3.SecurityRequirementObject[] = [{ sessionCookie: [] }, { bearerAuth: [] }];
const timestamp = { type: 'string', format: 'date-time' } as const;
const messageId = {
  type: 'string',
  description: 'Where the message sat on the bus: its subject and sequence',
  example: 'order:cancelled#42',
} as const;

/** Messages the listeners parked (`dead_letters`), and publishing them again. */
export const deadLetterPaths: OpenAPIV3.PathsObject = {
  '/api/payments/admin/dead-letters': {
    get: {
      tags: ['events'],
      operationId: 'listDeadLetters',
      summary: 'Consumed messages parked as never processable or retried too long, newest first',
      description: `${adminOnly} Stripe's list conventions: \`limit\` per page, \`starting_after\`, \`has_more\`.`,
      security,
      parameters: [
        {
          name: 'limit',
          in: 'query',
          required: false,
          description: 'Messages per page',
          schema: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
        },
        {
          name: 'starting_after',
          in: 'query',
          required: false,
          description: 'A message id: the page holds those parked before it',
          schema: messageId,
        },
      ],
      responses: {
        '200': jsonResponse('A page of parked messages', 'DeadLetterList'),
        '400': errorResponse('A `limit` out of range, or a cursor that is not in the list'),
        '401': errorResponse('Not an admin'),
        '500': errorResponse('Unexpected failure (`internal`)'),
      },
    },
  },
  '/api/payments/admin/dead-letters/{id}/replay': {
    post: {
      tags: ['events'],
      operationId: 'replayDeadLetter',
      summary: 'Publish a parked message again on its subject, as it arrived, and take it off the list',
      description:
        `${adminOnly} As \`npm run dead-letters -- replay\` does: the message leaves the list once NATS Streaming ` +
        'has stored it; the service then handles it like any other, and parks it again (under a new id) if it still cannot.',
      security,
      parameters: [{ name: 'id', in: 'path', required: true, schema: messageId }],
      responses: {
        '200': jsonResponse('The message, published again', 'DeadLetter'),
        '400': errorResponse('Its payload is not JSON: it would only be parked again (`not_replayable`)'),
        '401': errorResponse('Not an admin'),
        '404': errorResponse('No parked message has this id (`not_found`)'),
        '500': errorResponse('Unexpected failure (`internal`)'),
        '503': errorResponse('The event bus is not connected: the message stays parked (`bus_unavailable`)'),
      },
    },
  },
};

export const deadLetterSchemas: Record<string, OpenAPIV3.SchemaObject> = {
  DeadLetter: {
    type: 'object',
    required: ['id', 'status', 'subject', 'payload', 'reason', 'deliveries', 'publishedAt', 'parkedAt'],
    additionalProperties: false,
    properties: {
      id: messageId,
      status: { type: 'string', enum: ['parked', 'replayed'] },
      subject: { type: 'string', example: 'order:cancelled' },
      payload: {
        type: 'string',
        description: 'The message as it arrived; saved payment methods and card tokens in it read `[redacted]`',
        example: '{"id":"6650c3f2a1b2c3d4e5f60718","version":1,"ticket":{"id":"6650c3f2a1b2c3d4e5f60719"}}',
      },
      reason: { type: 'string', example: 'order 6650c3f2a1b2c3d4e5f60718 not seen yet' },
      deliveries: { type: 'integer', minimum: 1 },
      publishedAt: timestamp,
      parkedAt: timestamp,
    },
  },
  DeadLetterList: {
    type: 'object',
    required: ['object', 'data', 'has_more', 'url'],
    properties: {
      object: { type: 'string', enum: ['list'] },
      data: { type: 'array', items: ref('schemas', 'DeadLetter') },
      has_more: { type: 'boolean' },
      url: { type: 'string' },
    },
  },
};
