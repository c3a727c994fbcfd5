import type { OpenAPIV3 } from 'openapi-types';
import { errorResponse, requestIdHeader } from './common';

/** What the payment provider calls. */
export const webhookPaths: OpenAPIV3.PathsObject = {
  '/api/payments/webhooks/stripe': {
    post: {
      tags: ['provider'],
      operationId: 'stripeWebhook',
      summary: "Stripe's webhooks: outcomes, refunds and disputes it reports later",
      description: [
        'Signed with `STRIPE_WEBHOOK_SECRET` (header `Stripe-Signature`, 300 s tolerance), read from the raw body.',
        'Handled: `payment_intent.succeeded`, `payment_intent.payment_failed`, `payment_intent.canceled`,',
        '`charge.refunded`, `refund.created`, `refund.updated`, `charge.dispute.created`; the object is read again',
        'from Stripe before anything is recorded. Other types, events already handled and events about no payment',
        'of this service are answered 200 too, so that Stripe stops sending them.',
      ].join(' '),
      parameters: [{ name: 'Stripe-Signature', in: 'header', required: true, schema: { type: 'string' } }],
      requestBody: {
        required: true,
        content: { 'application/json': { schema: { type: 'object', description: 'A Stripe event' } } },
      },
      responses: {
        '200': {
          description: 'Handled, or nothing to do',
          headers: requestIdHeader,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['received', 'outcome'],
                properties: {
                  received: { type: 'boolean', enum: [true] },
                  outcome: {
                    type: 'string',
                    enum: ['recorded', 'unchanged', 'not_ours', 'ignored', 'duplicate', 'refused'],
                  },
                },
              },
            },
          },
        },
        '400': errorResponse('The signature does not verify, or is older than 300 s (`invalid_signature`)'),
        '503': errorResponse(
          'Stripe is unreachable to read the object again (`provider_unavailable`), or no secret is set ' +
            '(`webhooks_not_configured`); Stripe sends the event again',
        ),
      },
    },
  },
};
