import { createHash } from 'node:crypto';
import type { OutboxMessage } from '../db/outbox';
import type { Payment, PaymentEvent } from '../domain/payment';
import {
  Subjects,
  type NotificationRequestedEvent,
  type PaymentCreatedEvent,
  type PaymentDisputedEvent,
  type PaymentFailedEvent,
  type PaymentRefundedEvent,
  type PaymentVoidedEvent,
} from './subjects';

type Wire = Pick<OutboxMessage, 'subject' | 'payload'>;

/** Whose payment it is and what it paid for: an order of ours, or another service's request. */
function about(p: Payment, e: PaymentEvent) {
  return {
    eventId: e.id,
    ...(p.orderId !== null && { orderId: p.orderId }),
    ...(p.request && { requestId: p.request.id }),
    userId: p.userId,
  };
}

function refundOf(p: Payment, e: PaymentEvent) {
  const refund = p.refunds.find((r) => r.id === e.refundId);
  if (!refund) throw new Error(`Event ${e.id} names refund ${e.refundId}, which payment ${p.id} does not have`);
  return refund;
}

function wire(p: Payment, e: PaymentEvent): Wire {
  switch (e.kind) {
    case 'succeeded': {
      const payload: PaymentCreatedEvent = {
        ...about(p, e),
        id: p.id,
        stripeId: p.chargeId ?? '',
        amount: p.amount,
        currency: p.currency,
      };
      return { subject: Subjects.PaymentCreated, payload };
    }
    case 'failed': {
      const payload: PaymentFailedEvent = {
        ...about(p, e),
        id: p.id,
        reason: p.failureReason ?? 'The payment failed',
        ...(p.declineCode !== null && { declineCode: p.declineCode }),
      };
      return { subject: Subjects.PaymentFailed, payload };
    }
    case 'refunded': {
      const refund = refundOf(p, e);
      const payload: PaymentRefundedEvent = {
        ...about(p, e),
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
      const payload: PaymentVoidedEvent = { ...about(p, e), id: p.id, amount: p.amount, currency: p.currency };
      return { subject: Subjects.PaymentVoided, payload };
    }
    case 'disputed': {
      const { dispute } = p;
      if (!dispute) throw new Error(`Event ${e.id} is about a dispute, which payment ${p.id} does not have`);
      const payload: PaymentDisputedEvent = {
        ...about(p, e),
        id: p.id,
        disputeId: dispute.id,
        amount: dispute.amount,
        currency: p.currency,
        reason: dispute.reason,
      };
      return { subject: Subjects.PaymentDisputed, payload };
    }
  }
}

// What the payer hears about; a dispute is between them and their bank.
const NOTIFICATION_KIND: Partial<Record<PaymentEvent['kind'], NotificationRequestedEvent['kind']>> = {
  succeeded: 'payment_succeeded',
  failed: 'payment_failed',
  refunded: 'payment_refunded',
  voided: 'payment_voided',
};

/** The notification's own id, derived from its event's, so that every copy of it carries the same one. */
function notificationId(eventId: string): string {
  const h = createHash('sha256').update(`notification:${eventId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** What a notifications service needs to tell the payer about an outcome. */
function notification(p: Payment, e: PaymentEvent): (Wire & { id: string }) | null {
  const kind = NOTIFICATION_KIND[e.kind];
  if (!kind) return null;
  const id = notificationId(e.id);
  const payload: NotificationRequestedEvent = {
    eventId: id,
    userId: p.userId,
    ...(p.email !== null && { email: p.email }),
    kind,
    payment: {
      id: p.id,
      ...(p.orderId !== null && { orderId: p.orderId }),
      ...(p.request && { requestId: p.request.id }),
      amount: e.kind === 'refunded' ? refundOf(p, e).amount : p.amount,
      currency: p.currency,
      status: p.status,
    },
  };
  return { id, subject: Subjects.NotificationRequested, payload };
}

/**
 * The bus messages a payment's events become: the one place where domain events
 * meet subjects. Each outcome goes out as its payment event, then as a request to
 * notify the payer.
 */
export function messagesFor(p: Payment, events: PaymentEvent[]): OutboxMessage[] {
  const key = p.orderId ?? p.request?.id ?? p.id;
  return events.flatMap((e) => {
    const told = notification(p, e);
    return [
      { id: e.id, destination: 'bus', key, ...wire(p, e) },
      ...(told ? [{ destination: 'bus', key, ...told }] : []),
    ];
  });
}
