import { toJSONSchema, type ZodType } from 'zod/v4';
import {
  billingPaymentRequestedSchema,
  notificationRequestedSchema,
  orderCancelledSchema,
  orderCreatedSchema,
  paymentCreatedConsumedSchema,
  paymentCreatedSchema,
  paymentDisputedSchema,
  paymentFailedSchema,
  paymentRefundedSchema,
  paymentRequestedSchema,
  paymentVoidedSchema,
  Subjects,
} from '../../events/subjects';

/** A payload schema of the event contract as JSON Schema, generated from the zod schema the service parses with. */
function payload(schema: ZodType): Record<string, unknown> {
  const { $schema: _, ...json } = toJSONSchema(schema, { target: 'draft-7' }) as Record<string, unknown>;
  return json;
}

const payment = {
  eventId: '0b0f5b5e-3c1e-4c49-9a8e-2f7f0c6a1d11',
  id: '6650c3f2a1b2c3d4e5f60719',
  orderId: '6650c3f2a1b2c3d4e5f60718',
  userId: 'user-1',
};

/**
 * Consumed and published NATS Streaming subjects, next to the HTTP API, since
 * OpenAPI 3.0 has no place for them. Payloads are JSON; src/events/subjects.ts is the source.
 */
export const events = {
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
        'An order was cancelled, whatever the version it carries: a later payment for it is refused with 400 ' +
        'order_cancelled, and a payment that went through for it is refunded in full (reason order_cancelled).',
      payload: payload(orderCancelledSchema),
      example: { id: '6650c3f2a1b2c3d4e5f60718', version: 1, ticket: { id: 'ticket-1' } },
    },
    [Subjects.PaymentCreated]: {
      description:
        'A payment went through, here or in another payments service of the cluster: the order is paid, and a ' +
        'second payment for it is refused with 409 order_already_paid.',
      payload: payload(paymentCreatedConsumedSchema),
      example: { id: '6650c3f2a1b2c3d4e5f60719', orderId: '6650c3f2a1b2c3d4e5f60718' },
    },
    [Subjects.PaymentRequested]: {
      description:
        'Another service asks for a payment with a payment method the customer saved. It is charged off-session, ' +
        'once per requestId however often the event comes; the outcome goes out as payment:created or ' +
        'payment:failed (a card that needs its holder fails with reason authentication_required), both with ' +
        'requestId, and as notification:requested.',
      payload: payload(paymentRequestedSchema),
      example: {
        requestId: 'sub_2024_06_user-1',
        userId: 'user-1',
        email: 'user@example.test',
        customerId: 'cus_Ptest',
        paymentMethod: 'pm_card_visa',
        amount: 1999,
        currency: 'usd',
        reference: { type: 'subscription', id: 'sub-1' },
        description: 'June',
      },
    },
    [Subjects.BillingPaymentRequested]: {
      description:
        "The reference billing service's request for a subscription's first payment, handled as " +
        'payment:requested with requestId = subId.',
      payload: payload(billingPaymentRequestedSchema),
      example: {
        subId: 'sub-1',
        user: { id: 'user-1', email: 'user@example.test', paymentMethod: 'pm_card_visa' },
        product: { price: 19.99, currency: 'usd' },
      },
    },
  },
  published: {
    [Subjects.PaymentCreated]: {
      description: 'A charge succeeded. Sent at least once; drop duplicates by eventId.',
      payload: payload(paymentCreatedSchema),
      example: { ...payment, stripeId: 'ch_1Ptest', amount: 1999, currency: 'usd' },
    },
    [Subjects.PaymentFailed]: {
      description: 'A charge was declined or refused. Sent at least once; drop duplicates by eventId.',
      payload: payload(paymentFailedSchema),
      example: { ...payment, reason: 'Your card has insufficient funds.', declineCode: 'insufficient_funds' },
    },
    [Subjects.PaymentRefunded]: {
      description: 'A refund succeeded: one event per refund. Sent at least once; drop duplicates by eventId.',
      payload: payload(paymentRefundedSchema),
      example: {
        ...payment,
        id: '7a1b2c3d4e5f60718293a4b5',
        paymentId: payment.id,
        amount: 500,
        amountRefunded: 500,
        currency: 'usd',
        reason: 'requested_by_customer',
      },
    },
    [Subjects.PaymentVoided]: {
      description: 'A payment that never succeeded was voided (a charge found after all is refunded in full).',
      payload: payload(paymentVoidedSchema),
      example: { ...payment, amount: 1999, currency: 'usd' },
    },
    [Subjects.PaymentDisputed]: {
      description:
        'The payer disputed a charge with their bank (reported by a Stripe webhook). The money is held until the ' +
        'dispute is decided; no refund can be made meanwhile.',
      payload: payload(paymentDisputedSchema),
      example: { ...payment, disputeId: 'dp_1Ptest', amount: 1999, currency: 'usd', reason: 'fraudulent' },
    },
    [Subjects.NotificationRequested]: {
      description:
        'For every outcome (succeeded, failed, refunded, voided), so that a notifications service can write to ' +
        "the payer: the email comes from the payer's session or from the requesting event.",
      payload: payload(notificationRequestedSchema),
      example: {
        eventId: '5d7f3c1e-9a0b-4c2d-8e6f-1a2b3c4d5e6f',
        userId: 'user-1',
        email: 'user@example.test',
        kind: 'payment_succeeded',
        payment: { id: payment.id, orderId: payment.orderId, amount: 1999, currency: 'usd', status: 'succeeded' },
      },
    },
  },
};
