import { z } from 'zod/v4';

/**
 * The event contract with the other ticketing services. Subjects and payload
 * shapes are fixed by them; nothing else in the service spells a subject.
 */
export const Subjects = {
  OrderCreated: 'order:created',
  OrderCancelled: 'order:cancelled',
  PaymentCreated: 'payment:created',
  PaymentFailed: 'payment:failed',
  PaymentRefunded: 'payment:refunded',
  PaymentVoided: 'payment:voided',
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

/** Every event we publish carries `eventId`, the same for every copy, so consumers can drop duplicates. */
export const paymentCreatedSchema = z.object({
  eventId: z.string(),
  id: objectId,
  orderId: objectId,
  stripeId: z.string().describe("The provider's charge id"),
  userId: z.string(),
  amount: z.number().int().describe('Minor units'),
  currency: z.string().regex(/^[a-z]{3}$/),
});
export type PaymentCreatedEvent = z.infer<typeof paymentCreatedSchema>;

export const paymentFailedSchema = z.object({
  eventId: z.string(),
  id: objectId,
  orderId: objectId,
  userId: z.string(),
  reason: z.string(),
});
export type PaymentFailedEvent = z.infer<typeof paymentFailedSchema>;

export const paymentRefundedSchema = z.object({
  eventId: z.string(),
  id: z.string().describe('The refund'),
  paymentId: objectId,
  orderId: objectId,
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
  orderId: objectId,
  userId: z.string(),
  amount: z.number().int().describe('Minor units'),
  currency: z.string().regex(/^[a-z]{3}$/),
});
export type PaymentVoidedEvent = z.infer<typeof paymentVoidedSchema>;

/** payment:created as any payments service of the cluster publishes it: only what marks an order paid is read. */
export const paymentCreatedConsumedSchema = z.looseObject({ id: z.string().min(1), orderId: objectId });

export const consumed = {
  [Subjects.OrderCreated]: orderCreatedSchema,
  [Subjects.OrderCancelled]: orderCancelledSchema,
  [Subjects.PaymentCreated]: paymentCreatedConsumedSchema,
};

export const published = {
  [Subjects.PaymentCreated]: paymentCreatedSchema,
  [Subjects.PaymentFailed]: paymentFailedSchema,
  [Subjects.PaymentRefunded]: paymentRefundedSchema,
  [Subjects.PaymentVoided]: paymentVoidedSchema,
};
