import { z } from 'zod';

/**
 * The event contract with the other ticketing services. Subjects and payload
 * shapes are fixed by them; nothing else in the service spells a subject.
 */
export const Subjects = {
  OrderCreated: 'order:created',
  OrderCancelled: 'order:cancelled',
  PaymentCreated: 'payment:created',
  PaymentFailed: 'payment:failed',
} as const;
export type Subject = (typeof Subjects)[keyof typeof Subjects];

const objectId = z.string().regex(/^[0-9a-fA-F]{24}$/, 'must be an ObjectId');

export const orderCreatedSchema = z.object({
  id: objectId,
  version: z.number().int().min(0),
  status: z.string().min(1),
  userId: z.string().min(1),
  expiresAt: z.string().optional(),
  ticket: z.object({ id: z.string().min(1), price: z.number().finite().nonnegative() }),
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/)
    .optional(),
});
export type OrderCreatedEvent = z.infer<typeof orderCreatedSchema>;

export const orderCancelledSchema = z.object({
  id: objectId,
  version: z.number().int().min(1),
  ticket: z.object({ id: z.string().min(1) }).optional(),
});
export type OrderCancelledEvent = z.infer<typeof orderCancelledSchema>;

/** Every event we publish carries `eventId`, so consumers can drop duplicates. */
export interface PaymentCreatedEvent {
  eventId: string;
  id: string;
  orderId: string;
  stripeId: string;
  userId: string;
  amount: number;
  currency: string;
}

export interface PaymentFailedEvent {
  eventId: string;
  id: string;
  orderId: string;
  userId: string;
  reason: string;
}

export interface PublishedEvents {
  [Subjects.PaymentCreated]: PaymentCreatedEvent;
  [Subjects.PaymentFailed]: PaymentFailedEvent;
}
