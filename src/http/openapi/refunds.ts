import type { OpenAPIV3 } from 'openapi-types';
import { REFUND_REASONS } from '../../domain/payment';
import { errorResponse, jsonResponse, ref } from './common';

const adminOnly = 'Admins only: a JWT with `role: "admin"`, or a user id in ADMIN_USER_IDS.';

/** Money going back: refunds and voids, for admins. */
export const refundPaths: OpenAPIV3.PathsObject = {
  '/api/payments/{id}/refunds': {
    post: {
      tags: ['refunds'],
      operationId: 'refundPayment',
      summary: 'Refund a payment, in full or in part',
      description:
        `${adminOnly} No amount refunds what remains. The refunds of a payment never add up to more than was ` +
        'charged, also when many are asked for at once. With `Idempotency-Key`, a repeat replays the first answer.',
      security: [{ sessionCookie: [] }, { bearerAuth: [] }],
      parameters: [ref('parameters', 'PaymentId'), ref('parameters', 'IdempotencyKey')],
      requestBody: {
        required: false,
        content: { 'application/json': { schema: ref('schemas', 'RefundRequest') } },
      },
      responses: {
        '201': jsonResponse(
          'The refund went through; the payment as it is now is under `payment`',
          'RefundCreated',
          true,
        ),
        '400': errorResponse('An invalid amount or reason (`invalid_field`), or malformed JSON', true),
        '401': errorResponse('Not an admin', true),
        '402': errorResponse('The provider refused the refund (`refund_declined`); its amount is free again', true),
        '404': errorResponse('No such payment', true),
        '409': errorResponse(
          'More than can still be refunded (`refund_exceeds_remaining`), a payment that did not succeed ' +
            '(`payment_not_refundable`), or a request with this Idempotency-Key still running',
          true,
        ),
        '415': errorResponse('No JSON body (`unsupported_media_type`): send `{}` to refund what remains'),
        '422': errorResponse('This Idempotency-Key was used with a different request (`idempotency_key_reused`)'),
        '500': errorResponse('Unexpected failure (`internal`)'),
        '503': errorResponse(
          'The provider is unreachable (`provider_unavailable`): the refund stays pending, its amount set aside, ' +
            'and is settled later under the same key',
        ),
      },
    },
  },
  '/api/payments/{id}': {
    delete: {
      tags: ['refunds'],
      operationId: 'voidPayment',
      summary: 'Void a payment that never succeeded; the record stays',
      description:
        `${adminOnly} A pending payment's fate is settled with the provider first, under its own key; if a charge ` +
        'was made after all, it is refunded in full. Voiding a voided payment answers it again.',
      security: [{ sessionCookie: [] }, { bearerAuth: [] }],
      parameters: [ref('parameters', 'PaymentId')],
      responses: {
        '200': jsonResponse('The voided payment (with the refund of a charge found, if one was)', 'PaymentDetail'),
        '400': errorResponse('Not a payment id (`invalid_field`)'),
        '401': errorResponse('Not an admin'),
        '404': errorResponse('No such payment'),
        '409': errorResponse('A succeeded payment (`use_refund`) or a failed one (`payment_not_voidable`)'),
        '500': errorResponse('Unexpected failure (`internal`)'),
        '503': errorResponse('The provider is unreachable (`provider_unavailable`): the payment stays pending'),
      },
    },
  },
};

export const refundSchemas: Record<string, OpenAPIV3.SchemaObject> = {
  RefundRequest: {
    type: 'object',
    properties: {
      amount: { type: 'integer', minimum: 1, description: 'Minor units; none refunds what remains' },
      reason: { type: 'string', enum: [...REFUND_REASONS], default: 'requested_by_customer' },
    },
  },
  RefundCreated: {
    allOf: [
      ref('schemas', 'Refund'),
      { type: 'object', required: ['payment'], properties: { payment: ref('schemas', 'PaymentDetail') } },
    ],
  },
};
