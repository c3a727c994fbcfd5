import type { OutboxMessage } from '../db/outbox';
import type { Payment, PaymentEvent } from '../domain/payment';
import { Subjects, type PaymentCreatedEvent, type PaymentFailedEvent } from './subjects';

/** The bus messages a payment's events become: the one place where domain events meet subjects. */
export function messagesFor(p: Payment, events: PaymentEvent[]): OutboxMessage[] {
  return events.map((e) => {
    const message = { id: e.id, destination: 'bus', key: p.orderId };
    if (e.kind === 'succeeded') {
      const payload: PaymentCreatedEvent = {
        eventId: e.id,
        id: p.id,
        orderId: p.orderId,
        stripeId: p.chargeId ?? '',
        userId: p.userId,
        amount: p.amount,
        currency: p.currency,
      };
      return { ...message, subject: Subjects.PaymentCreated, payload };
    }
    const payload: PaymentFailedEvent = {
      eventId: e.id,
      id: p.id,
      orderId: p.orderId,
      userId: p.userId,
      reason: p.failureReason ?? 'The payment failed',
    };
    return { ...message, subject: Subjects.PaymentFailed, payload };
  });
}
