import type { OutboxMessage } from '../db/outbox';
import type { Payment, PaymentEvent } from '../domain/payment';
import {
  Subjects,
  type PaymentCreatedEvent,
  type PaymentFailedEvent,
  type PaymentRefundedEvent,
  type PaymentVoidedEvent,
} from './subjects';

type Wire = Pick<OutboxMessage, 'subject' | 'payload'>;

function wire(p: Payment, e: PaymentEvent): Wire {
  const about = { eventId: e.id, orderId: p.orderId, userId: p.userId };
  switch (e.kind) {
    case 'succeeded': {
      const payload: PaymentCreatedEvent = {
        ...about,
        id: p.id,
        stripeId: p.chargeId ?? '',
        amount: p.amount,
        currency: p.currency,
      };
      return { subject: Subjects.PaymentCreated, payload };
    }
    case 'failed': {
      const payload: PaymentFailedEvent = { ...about, id: p.id, reason: p.failureReason ?? 'The payment failed' };
      return { subject: Subjects.PaymentFailed, payload };
    }
    case 'refunded': {
      const refund = p.refunds.find((r) => r.id === e.refundId);
      if (!refund) throw new Error(`Event ${e.id} names refund ${e.refundId}, which payment ${p.id} does not have`);
      const payload: PaymentRefundedEvent = {
        ...about,
        id: refund.id,
        paymentId: p.id,
        amount: refund.amount,
        amountRefunded: p.amountRefunded,
        currency: p.currency,
        reason: refund.reason,
      };
      return { subject: Subjects.PaymentRefunded, payload };
    }
    case 'voided': {
      const payload: PaymentVoidedEvent = { ...about, id: p.id, amount: p.amount, currency: p.currency };
      return { subject: Subjects.PaymentVoided, payload };
    }
  }
}

/** The bus messages a payment's events become: the one place where domain events meet subjects. */
export function messagesFor(p: Payment, events: PaymentEvent[]): OutboxMessage[] {
  return events.map((e) => ({ id: e.id, destination: 'bus', key: p.orderId, ...wire(p, e) }));
}
