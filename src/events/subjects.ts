import { z } from 'zod/v4';

/**
 * The event contract with the other services. The ticketing subjects and payload
 * shapes are fixed by them; nothing else in the service spells a subject.
 */
export const Subjects = {
  OrderCreated: 'order:created',
  OrderCancelled: 'order:cancelled',
  PaymentCreated: 'payment:created',
  PaymentFailed: 'payment:failed',
  PaymentRefunded: 'payment:refunded',
  PaymentVoided: 'payment:voided',
  PaymentDisputed: 'payment:disputed',
  PaymentRequested: 'payment:requested',
  // The reference billing service's request for a subscription's first payment.
  BillingPaymentRequested: 'payment.createInitial',
  NotificationRequested: 'notification:requested',
} as const;
export type Subject = (typeof Subjects)[keyof typeof Subjects];

const objectId = z.string().regex(/^[0-9a-fA-F]{24}$/, 'must be an ObjectId');
const currency = z.string().regex(/^[A-Za-z]{3}$/, 'must be an ISO 4217 code');

// Consumed payloads tolerate fields this service does not read: their senders may add some.
export const orderCreatedSchema = z.looseObject({
  id: objectId,
  version: z.number().int().min(0),
  status: z.string().min(1),
  userId: z.string().min(1),
  expiresAt: z.string().optional(),
  ticket: z.looseObject({ id: z.string().min(1), price: z.number().nonnegative().describe('Major units: 19.99') }),
  currency: currency.optional().describe('Defaults to PAYMENTS_CURRENCY'),
});
export type OrderCreatedEvent = z.infer<typeof orderCreatedSchema>;

export const orderCancelledSchema = z.looseObject({
  id: objectId,
  // The ticketing orders service sends 0 when a user cancels: a cancel is applied whatever its version.
  version: z.number().int().min(0),
  ticket: z.looseObject({ id: z.string().min(1) }).optional(),
});
export type OrderCancelledEvent = z.infer<typeof orderCancelledSchema>;

const amountAndPrice = (v: { amount?: number | undefined; price?: number | undefined }) =>
  (v.amount === undefined) !== (v.price === undefined);

/** Another service asks for a payment with a payment method the customer saved. */
export const paymentRequestedSchema = z
  .looseObject({
    requestId: z.string().min(1).max(255).describe('One request id is one payment, however often it is delivered'),
    userId: z.string().min(1),
    email: z.string().min(1).optional(),
    customerId: z.string().min(1).optional().describe('The customer at the provider the method is saved for'),
    paymentMethod: z.string().min(1).describe('A saved payment method: pm_...'),
    amount: z.number().int().positive().optional().describe('Minor units: 1999. Give amount or price'),
    price: z.number().positive().optional().describe('Major units: 19.99. Give amount or price'),
    currency,
    reference: z.looseObject({ type: z.string().min(1), id: z.string().min(1) }).optional(),
    description: z.string().max(500).optional(),
  })
  .refine(amountAndPrice, { message: 'give amount (minor units) or price (major units), not both', path: ['amount'] });
export type PaymentRequestedEvent = z.infer<typeof paymentRequestedSchema>;

/** The reference billing service's request for a subscription's first payment; its subId is the request id. */
export const billingPaymentRequestedSchema = z.looseObject({
  subId: z.string().min(1).max(255),
  user: z.looseObject({ id: z.string().min(1), email: z.string().min(1).optional(), paymentMethod: z.string().min(1) }),
  product: z.looseObject({ price: z.number().positive().describe('Major units'), currency }),
});
export type BillingPaymentRequestedEvent = z.infer<typeof billingPaymentRequestedSchema>;

/**
 * Every event we publish carries `eventId`, the same for every copy, so consumers can drop duplicates.
 * A payment another service requested by event has no order: it carries `requestId` instead of `orderId`.
 */
export const paymentCreatedSchema = z.object({
  eventId: z.string(),
  id: objectId,
  orderId: objectId.optional(),
  requestId: z.string().optional(),
  stripeId: z.string().describe("The provider's charge id"),
  userId: z.string(),
  amount: z.number().int().describe('Minor units'),
  currency: z.string().regex(/^[a-z]{3}$/),
});
export type PaymentCreatedEvent = z.infer<typeof paymentCreatedSchema>;

export const paymentFailedSchema = z.object({
  eventId: z.string(),
  id: objectId,
  orderId: objectId.optional(),
  requestId: z.string().optional(),
  userId: z.string(),
  reason: z.string(),
  declineCode: z.string().optional().describe("The provider's reason: insufficient_funds, authentication_required..."),
});
export type PaymentFailedEvent = z.infer<typeof paymentFailedSchema>;

export const paymentRefundedSchema = z.object({
  eventId: z.string(),
  id: z.string().describe('The refund'),
  paymentId: objectId,
  orderId: objectId.optional(),
  requestId: z.string().optional(),
  userId: z.string(),
  amount: z.number().int().describe('Minor units: this refund'),
  amountRefunded: z.number().int().describe('Minor units: every succeeded refund of the payment, this one included'),
  currency: z.string().regex(/^[a-z]{3}$/),
  reason: z.enum(['requested_by_customer', 'duplicate', 'fraudulent', 'order_cancelled']),
});
export type PaymentRefundedEvent = z.infer<typeof paymentRefundedSchema>;

export const paymentVoidedSchema = z.object({
  eventId: z.string(),
  id: objectId,
  orderId: objectId.optional(),
  requestId: z.string().optional(),
  userId: z.string(),
  amount: z.number().int().describe('Minor units'),
  currency: z.string().regex(/^[a-z]{3}$/),
});
export type PaymentVoidedEvent = z.infer<typeof paymentVoidedSchema>;

export const paymentDisputedSchema = z.object({
  eventId: z.string(),
  id: objectId,
  orderId: objectId.optional(),
  requestId: z.string().optional(),
  userId: z.string(),
  disputeId: z.string().describe("The provider's dispute"),
  amount: z.number().int().describe('Minor units: what is disputed'),
  currency: z.string().regex(/^[a-z]{3}$/),
  reason: z.string().describe("The provider's reason: fraudulent, product_not_received..."),
});
export type PaymentDisputedEvent = z.infer<typeof paymentDisputedSchema>;

export const notificationRequestedSchema = z.object({
  eventId: z.string(),
  userId: z.string(),
  email: z.string().optional(),
  kind: z.enum(['payment_succeeded', 'payment_failed', 'payment_refunded', 'payment_voided']),
  payment: z.object({
    id: objectId,
    orderId: objectId.optional(),
    requestId: z.string().optional(),
    amount: z.number().int().describe('Minor units: the payment, or the refund for payment_refunded'),
    currency: z.string().regex(/^[a-z]{3}$/),
    status: z.string(),
  }),
});
export type NotificationRequestedEvent = z.infer<typeof notificationRequestedSchema>;

/**
 * payment:created as any payments service of the cluster publishes it: only what marks an order
 * paid is read. One without an order (a requested payment) is no order's business.
 */
export const paymentCreatedConsumedSchema = z.looseObject({ id: z.string().min(1), orderId: objectId.optional() });

export const consumed = {
  [Subjects.OrderCreated]: orderCreatedSchema,
  [Subjects.OrderCancelled]: orderCancelledSchema,
  [Subjects.PaymentCreated]: paymentCreatedConsumedSchema,
  [Subjects.PaymentRequested]: paymentRequestedSchema,
  [Subjects.BillingPaymentRequested]: billingPaymentRequestedSchema,
};

export const published = {
  [Subjects.PaymentCreated]: paymentCreatedSchema,
  [Subjects.PaymentFailed]: paymentFailedSchema,
  [Subjects.PaymentRefunded]: paymentRefundedSchema,
  [Subjects.PaymentVoided]: paymentVoidedSchema,
  [Subjects.PaymentDisputed]: paymentDisputedSchema,
  [Subjects.NotificationRequested]: notificationRequestedSchema,
};
