import type { OpenAPIV3 } from 'openapi-types';
import { errorResponse, jsonResponse, ref } from './common';

const adminOnly = 'Admins only: a JWT with `role: "admin"`, or a user id in ADMIN_USER_IDS.';
const security: OpenAPIV3.SecurityRequirementObject[] = [{ sessionCookie: [] }, { bearerAuth: [] }];
const timestamp = { type: 'string', format: 'date-time' } as const;
const deliveryId = {
  type: 'string',
  description: 'The destination (`callback:` and a hash of the URL) and the event id',
  example: 'callback:3f9a1c2b7d4e:0b0f5b5e-3c1e-4c49-9a8e-2f7f0c6a1d11',
} as const;

/** Callbacks to order services that were given up on, and sending them again. */
export const deliveryPaths: OpenAPIV3.PathsObject = {
  '/api/payments/admin/deliveries': {
    get: {
      tags: ['callbacks'],
      operationId: 'listDeadDeliveries',
      summary: 'Callbacks given up on (410, or every attempt of the schedule failed), newest first',
      description: `${adminOnly} Stripe's list conventions: \`limit\` per page, \`starting_after\`, \`has_more\`.`,
      security,
      parameters: [
        { name: 'status', in: 'query', required: true, schema: { type: 'string', enum: ['dead'] } },
        {
          name: 'limit',
          in: 'query',
          required: false,
          description: 'Deliveries per page',
          schema: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
        },
        {
          name: 'starting_after',
          in: 'query',
          required: false,
          description: 'A delivery id: the page holds those that died before it',
          schema: deliveryId,
        },
      ],
      responses: {
        '200': jsonResponse('A page of dead deliveries', 'DeliveryList'),
        '400': errorResponse('No `status=dead`, a `limit` out of range, or a cursor that is not in the list'),
        '401': errorResponse('Not an admin'),
        '500': errorResponse('Unexpected failure (`internal`)'),
      },
    },
  },
  '/api/payments/admin/deliveries/{id}/redeliver': {
    post: {
      tags: ['callbacks'],
      operationId: 'redeliver',
      summary: 'Send a dead delivery again, now, with its retry schedule started over',
      description:
        `${adminOnly} The delivery leaves the dead list and is attempted at once; if that attempt fails too, ` +
        'it is retried on CALLBACK_RETRY_SCHEDULE like any other. The receiver gets the same `webhook-id` and body.',
      security,
      parameters: [{ name: 'id', in: 'path', required: true, schema: deliveryId }],
      responses: {
        '200': jsonResponse('The delivery, queued again', 'Delivery'),
        '401': errorResponse('Not an admin'),
        '404': errorResponse('No dead delivery has this id (`not_found`)'),
        '409': errorResponse('Its receiver is no longer in ORDER_CALLBACK_URL (`receiver_not_configured`)'),
        '500': errorResponse('Unexpected failure (`internal`)'),
      },
    },
  },
};

export const deliverySchemas: Record<string, OpenAPIV3.SchemaObject> = {
  Delivery: {
    type: 'object',
    required: [
      'id',
      'status',
      'url',
      'eventId',
      'subject',
      'body',
      'attempts',
      'lastError',
      'lastStatus',
      'createdAt',
      'diedAt',
    ],
    additionalProperties: false,
    properties: {
      id: deliveryId,
      status: { type: 'string', enum: ['dead', 'pending'] },
      url: { type: 'string', description: 'The receiver', example: 'https://orders.example/payment-callbacks' },
      eventId: { type: 'string', description: 'The event, as `webhook-id` and the payload carry it' },
      subject: { type: 'string', example: 'payment:created' },
      body: {
        type: 'object',
        description: 'What the receiver is sent: the event as Standard Webhooks recommends',
        required: ['type', 'timestamp', 'data'],
        properties: {
          type: { type: 'string', example: 'payment:created' },
          timestamp: timestamp,
          data: { type: 'object', description: 'The payload published on the bus (see `x-events`)' },
        },
      },
      attempts: { type: 'integer', minimum: 0 },
      lastError: { type: 'string', nullable: true, example: 'receiver answered 500' },
      lastStatus: { type: 'integer', nullable: true, description: "The receiver's last answer", example: 500 },
      createdAt: timestamp,
      diedAt: { ...timestamp, nullable: true },
    },
  },
  DeliveryList: {
    type: 'object',
    required: ['object', 'data', 'has_more', 'url'],
    properties: {
      object: { type: 'string', enum: ['list'] },
      data: { type: 'array', items: ref('schemas', 'Delivery') },
      has_more: { type: 'boolean' },
      url: { type: 'string' },
    },
  },
};
