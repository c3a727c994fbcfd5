import type { DeadDelivery } from '../db/dead-deliveries';
import type { DeadLetter } from '../db/dead-letters';
import type { OutboxEntry } from '../db/outbox';
import type { Payment, Refund } from '../domain/payment';

/** A refund as the API shows it. */
export function presentRefund(r: Refund, p: Pick<Payment, 'id' | 'currency'>) {
  return {
    id: r.id,
    paymentId: p.id,
    amount: r.amount,
    currency: p.currency,
    reason: r.reason,
    status: r.status,
    providerId: r.providerId,
    failureReason: r.failureReason,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

/** The answer to POST /api/payments: the payment as the ticketing client has always had it. */
export function presentCreated(p: Payment) {
  return {
    id: p.id,
    orderId: p.orderId,
    stripeId: p.chargeId,
    status: p.status,
    amount: p.amount,
    currency: p.currency,
    createdAt: p.createdAt.toISOString(),
  };
}

/**
 * A payment with its amounts, refunds and history: never its card token (or saved payment method), its
 * payer's email, or the key of the request that made it.
 */
export function presentPayment(p: Payment) {
  return {
    ...presentCreated(p),
    userId: p.userId,
    amountRefunded: p.amountRefunded,
    failureReason: p.failureReason,
    declineCode: p.declineCode,
    request: p.request,
    dispute: p.dispute && { ...p.dispute, at: p.dispute.at.toISOString() },
    refunds: p.refunds.map((r) => presentRefund(r, p)),
    history: p.history.map((h) => ({ ...h, at: h.at.toISOString() })),
    updatedAt: p.updatedAt.toISOString(),
  };
}

/** Stripe's list shape. */
export function presentList<T>(url: string, data: T[], hasMore: boolean) {
  return { object: 'list' as const, data, has_more: hasMore, url };
}

const delivery = (d: DeadDelivery) => ({
  id: d.id,
  url: d.url,
  eventId: d.messageId,
  subject: d.subject,
  body: d.payload,
});

/** A delivery given up on: where it went, what it carried, and how its last attempt went. */
export function presentDeadDelivery(d: DeadDelivery) {
  return {
    ...delivery(d),
    status: 'dead',
    attempts: d.attempts,
    lastError: d.lastError,
    lastStatus: d.lastStatus,
    createdAt: d.createdAt.toISOString(),
    diedAt: d.diedAt.toISOString(),
  };
}

/** A dead delivery queued again: its attempts start over. */
export function presentRequeued(d: DeadDelivery, queued: OutboxEntry) {
  return {
    ...delivery(d),
    status: 'pending',
    attempts: queued.attempts,
    lastError: null,
    lastStatus: null,
    createdAt: queued.createdAt.toISOString(),
    diedAt: null,
  };
}

// Saved payment methods and card tokens that a parked payment:requested (or payment.createInitial) carries.
const SECRET_FIELDS = new Set(['paymentMethod', 'token', 'source']);
const SECRET_TEXT = new RegExp(`("(?:${[...SECRET_FIELDS].join('|')})"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"?`, 'g');

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      SECRET_FIELDS.has(k) && typeof v === 'string' ? '[redacted]' : redact(v),
    ]),
  );
}

/** A parked message, its payload as it arrived but for the payment methods it names. */
export function presentDeadLetter(d: DeadLetter) {
  let payload = d.payload;
  try {
    payload = JSON.stringify(redact(JSON.parse(d.payload)));
  } catch {
    // Not JSON (the usual reason it was parked): shown as it came, but for the values of those fields.
    payload = payload.replace(SECRET_TEXT, '$1"[redacted]"');
  }
  return {
    id: d.id,
    status: 'parked',
    subject: d.subject,
    payload,
    reason: d.reason,
    deliveries: d.deliveries,
    publishedAt: d.publishedAt.toISOString(),
    parkedAt: d.parkedAt.toISOString(),
  };
}
