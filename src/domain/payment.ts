import { createHash } from 'node:crypto';
import { ConflictError, InvalidInputError } from './errors';

export const PAYMENT_STATUSES = [
  'pending',
  'succeeded',
  'failed',
  'partially_refunded',
  'refunded',
  'voided',
  'disputed',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

// The whole lifecycle. A payment is recorded pending before the provider is
// called and settles once; money comes back through refunds, in parts (a refund
// asked for or refused leaves the status as it is); a payment that never
// succeeded can be voided, and a void that finds a charge refunds it. The
// provider can report later what moved without us: a charge that went through
// after a decline (its holder authenticated), refunds made in its dashboard, and
// disputes, which freeze the payment's status.
const NEXT: Record<PaymentStatus, readonly PaymentStatus[]> = {
  pending: ['succeeded', 'failed', 'voided'],
  succeeded: ['succeeded', 'partially_refunded', 'refunded', 'disputed'],
  // Back towards succeeded only when the provider reports that a refund failed after it succeeded.
  partially_refunded: ['partially_refunded', 'refunded', 'disputed', 'succeeded'],
  // A card holder's bank may open a dispute after the money went back: it is recorded all the same.
  refunded: ['partially_refunded', 'succeeded', 'disputed'],
  failed: ['succeeded'],
  voided: ['voided', 'disputed'],
  disputed: ['disputed'],
};

export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
  return NEXT[from].includes(to);
}

export const REFUND_REASONS = ['requested_by_customer', 'duplicate', 'fraudulent', 'order_cancelled'] as const;
export type RefundReason = (typeof REFUND_REASONS)[number];

export interface Refund {
  id: string;
  /** Minor units, of the payment's currency. */
  amount: number;
  reason: RefundReason;
  status: 'pending' | 'succeeded' | 'failed';
  /** The provider's refund, once there is one. */
  providerId: string | null;
  failureReason: string | null;
  /** Names the request that asked for it, when it carried an Idempotency-Key: its retry resumes this refund. */
  requestKey?: string;
  createdAt: Date;
  updatedAt: Date;
}

export type ChangeKind =
  | 'succeeded'
  | 'failed'
  | 'voided'
  | 'refund_requested'
  | 'refund_succeeded'
  | 'refund_failed'
  | 'refund_reversed'
  | 'disputed';

/** The customer disputed the charge with their bank. */
export interface Dispute {
  id: string;
  /** Minor units. */
  amount: number;
  reason: string;
  at: Date;
}

export interface HistoryEntry {
  status: PaymentStatus;
  at: Date;
  /** What happened: one entry per change. */
  change?: ChangeKind;
  reason?: string;
}

/** Another service asked for the payment by event: charged off-session with a saved payment method. */
export interface RequestDetails {
  /** The asking service's id for it: one request id is one payment. */
  id: string;
  /** The customer at the provider the payment method is saved for. */
  customerId: string | null;
  /** What the asking service pays for (a subscription, an invoice), as it names it. */
  reference: { type: string; id: string } | null;
  description: string | null;
}

export interface Payment {
  id: string;
  /** The ticketing order paid for; null for a payment another service requested by event. */
  orderId: string | null;
  userId: string;
  /** Where the payer hears about outcomes: from the session, or from the requesting event. */
  email: string | null;
  request: RequestDetails | null;
  /** Minor units of `currency`. */
  amount: number;
  currency: string;
  status: PaymentStatus;
  /** How many changes have been recorded since the payment was started. */
  version: number;
  /** The provider's charge, once there is one. */
  chargeId: string | null;
  failureReason: string | null;
  /** The provider's reason for a decline (`insufficient_funds`, `authentication_required`), when it gave one. */
  declineCode: string | null;
  /** What has come back to the customer: the sum of the succeeded refunds. */
  amountRefunded: number;
  refunds: Refund[];
  dispute: Dispute | null;
  /**
   * The card token (or, for a requested payment, the saved payment method), kept only while the
   * payment is pending so that its charge can be asked for again.
   */
  source: string | null;
  /** Identifies the request that started the payment (an Idempotency-Key), so that its retry can resume it. */
  requestKey: string | null;
  /** While the payment or one of its refunds is pending: from when the reconciler may settle it. */
  dueAt: Date | null;
  history: HistoryEntry[];
  createdAt: Date;
  updatedAt: Date;
}

/** Something that happened to a payment, in the domain's words; events/publications.ts puts it on the wire. */
export interface PaymentEvent {
  /** Derived from the change, so that every copy of it carries the same id. */
  id: string;
  kind: 'succeeded' | 'failed' | 'refunded' | 'voided' | 'disputed';
  /** The refund it is about (refunded). */
  refundId?: string;
}

/**
 * One step of a payment's life: what a transition decided, recorded once under
 * (paymentId, version). It carries what the payment becomes, so applying it is
 * a merge and applying it twice is harmless.
 */
export interface Change {
  paymentId: string;
  /** The version this change creates: the payment's version + 1. */
  version: number;
  at: Date;
  kind: ChangeKind;
  status: PaymentStatus;
  reason?: string;
  chargeId?: string;
  failureReason?: string;
  declineCode?: string;
  amountRefunded?: number;
  /** The refunds after the change, when it touches them. */
  refunds?: Refund[];
  dispute?: Dispute;
  /** When the reconciler should look at the payment next; null when nothing is pending. */
  dueAt: Date | null;
  events: PaymentEvent[];
}

export function start(input: {
  id: string;
  orderId: string | null;
  userId: string;
  email?: string | null;
  request?: RequestDetails | null;
  amount: number;
  currency: string;
  source: string;
  requestKey: string | null;
  at: Date;
  dueAt: Date;
}): Payment {
  const { at, email, request, ...fields } = input;
  return {
    ...fields,
    email: email ?? null,
    request: request ?? null,
    status: 'pending',
    version: 0,
    chargeId: null,
    failureReason: null,
    declineCode: null,
    amountRefunded: 0,
    refunds: [],
    dispute: null,
    history: [{ status: 'pending', at }],
    createdAt: at,
    updatedAt: at,
  };
}

type Fields = Omit<Change, 'paymentId' | 'version' | 'at' | 'kind' | 'status' | 'events' | 'dueAt'>;

// What each change may start from: a charge settles once (a decline can turn out
// to have gone through after all), refunds follow it, refunds asked for before a
// dispute still settle.
const FROM: Record<ChangeKind, readonly PaymentStatus[]> = {
  succeeded: ['pending', 'failed'],
  failed: ['pending'],
  // Voided: again only to record a charge that went through after the void (chargedAfterVoid).
  voided: ['pending', 'voided'],
  // Voided: only with a charge whose refund the provider refused (requestRefund checks).
  refund_requested: ['succeeded', 'partially_refunded', 'voided'],
  refund_succeeded: ['succeeded', 'partially_refunded', 'voided', 'disputed'],
  refund_failed: ['succeeded', 'partially_refunded', 'voided', 'disputed'],
  refund_reversed: ['partially_refunded', 'refunded', 'voided', 'disputed'],
  // Refunded or voided: its charge is disputed all the same (markDisputed checks there is one).
  disputed: ['succeeded', 'partially_refunded', 'refunded', 'voided'],
};

function change(
  p: Payment,
  kind: ChangeKind,
  to: PaymentStatus,
  at: Date,
  dueAt: Date | null,
  fields: Fields,
  events: Omit<PaymentEvent, 'id'>[],
): Change {
  if (!FROM[kind].includes(p.status) || !canTransition(p.status, to)) {
    throw new ConflictError(`A ${p.status} payment cannot become ${to} (${kind})`, 'illegal_transition');
  }
  const version = p.version + 1;
  return {
    paymentId: p.id,
    version,
    at,
    kind,
    status: to,
    ...fields,
    dueAt,
    events: events.map((e, i) => ({ ...e, id: eventId(p.id, version, i) })),
  };
}

const pendingRefunds = (refunds: Refund[]) => refunds.filter((r) => r.status === 'pending');

/** What no refund has taken back yet: the provider's own ceiling for a refund. */
export const unrefunded = (p: Payment): number => p.amount - p.amountRefunded;

/** What a new refund may take: what is unrefunded, less the refunds still pending. */
export function refundable(p: Payment): number {
  return unrefunded(p) - pendingRefunds(p.refunds).reduce((sum, r) => sum + r.amount, 0);
}

/**
 * Whether the payment holds money a refund may take: it succeeded, or it was voided with a charge
 * whose refund the provider refused (the charge is still there).
 */
const holdsCharge = (p: Payment): boolean =>
  p.status === 'succeeded' || p.status === 'partially_refunded' || (p.status === 'voided' && p.chargeId !== null);

/** Whether a refund may be asked of the payment now: it holds the money, and some of it is left. */
export const canRefund = (p: Payment): boolean => holdsCharge(p) && refundable(p) > 0;

/**
 * The provider charged the card; for a failed payment, it reports that the charge went
 * through after all (the holder authenticated after an off-session decline).
 */
export function succeed(p: Payment, chargeId: string, at: Date): Change {
  const fields =
    p.status === 'failed' ? { chargeId, reason: 'the provider reports the charge went through' } : { chargeId };
  return change(p, 'succeeded', 'succeeded', at, null, fields, [{ kind: 'succeeded' }]);
}

/** The provider refused the charge, or it was never made; the order may be paid again. */
export function fail(p: Payment, reason: string, at: Date, declineCode?: string): Change {
  const fields = { failureReason: reason, reason, ...(declineCode && { declineCode }) };
  return change(p, 'failed', 'failed', at, null, fields, [{ kind: 'failed' }]);
}

/**
 * A void of a payment that never succeeded. `chargeId` is the charge the provider
 * turned out to have made after all: it is refunded in full by the refund this
 * change requests, so that no charge remains.
 */
export function markVoided(p: Payment, at: Date, found: FoundCharge | null): Change {
  assertVoidable(p);
  if (!found) return change(p, 'voided', 'voided', at, null, { reason: 'voided' }, [{ kind: 'voided' }]);
  return voidedCharge(p, at, found, [{ kind: 'voided' }]);
}

/**
 * The charge of a payment voided without one went through after all (its holder authenticated
 * after the void found the card waiting for them): the void stands, and the charge is refunded in full.
 */
export function chargedAfterVoid(p: Payment, at: Date, found: FoundCharge): Change {
  if (p.status !== 'voided' || p.chargeId !== null) {
    throw new ConflictError(`A ${p.status} payment has no void without a charge`, 'illegal_transition');
  }
  // payment:voided went out with the void; payment:refunded follows the refund.
  return voidedCharge(p, at, found, []);
}

type FoundCharge = { chargeId: string; refundId: string; dueAt: Date };

function voidedCharge(p: Payment, at: Date, found: FoundCharge, events: Omit<PaymentEvent, 'id'>[]): Change {
  const refund = newRefund(found.refundId, p.amount, 'requested_by_customer', at);
  return change(
    p,
    'voided',
    'voided',
    at,
    found.dueAt,
    { chargeId: found.chargeId, refunds: [...p.refunds, refund], reason: 'voided; the charge is refunded' },
    events,
  );
}

/** Only a pending payment can be voided: a succeeded one is refunded instead. */
export function assertVoidable(p: Payment): void {
  if (p.status === 'succeeded' || p.status === 'partially_refunded' || p.status === 'refunded') {
    throw new ConflictError('A succeeded payment is refunded, not voided', 'use_refund');
  }
  if (p.status !== 'pending') throw new ConflictError(`A ${p.status} payment cannot be voided`, 'payment_not_voidable');
}

function newRefund(id: string, amount: number, reason: RefundReason, at: Date, requestKey?: string): Refund {
  return {
    id,
    amount,
    reason,
    status: 'pending',
    providerId: null,
    failureReason: null,
    ...(requestKey !== undefined && { requestKey }),
    createdAt: at,
    updatedAt: at,
  };
}

/**
 * Sets money aside for a refund, in the same decision as the check that it is
 * there: no amount refunds what remains, and the refunds of a payment never add
 * up to more than was charged, whatever runs at the same time.
 */
export function requestRefund(
  p: Payment,
  input: { refundId: string; amount?: number; reason: RefundReason; requestKey?: string; at: Date; dueAt: Date },
): Change {
  if (!holdsCharge(p)) {
    throw new ConflictError(`A ${p.status} payment cannot be refunded`, 'payment_not_refundable');
  }
  const remaining = refundable(p);
  const amount = input.amount ?? remaining;
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    if (input.amount === undefined) {
      throw new ConflictError('Nothing is left to refund on this payment', 'refund_exceeds_remaining');
    }
    throw new InvalidInputError('amount must be a whole number of minor units above 0', 'amount');
  }
  if (amount > remaining) {
    throw new ConflictError(
      `A refund of ${amount} is more than the ${remaining} that can still be refunded`,
      'refund_exceeds_remaining',
    );
  }
  const refunds = [...p.refunds, newRefund(input.refundId, amount, input.reason, input.at, input.requestKey)];
  return change(p, 'refund_requested', p.status, input.at, input.dueAt, { refunds, reason: input.reason }, []);
}

function settleRefund(p: Payment, refundId: string): { refund: Refund; others: Refund[] } {
  const refund = p.refunds.find((r) => r.id === refundId);
  if (!refund) throw new ConflictError(`No refund ${refundId} on payment ${p.id}`, 'refund_not_found');
  if (refund.status !== 'pending') {
    throw new ConflictError(`Refund ${refundId} is already ${refund.status}`, 'illegal_transition');
  }
  return { refund, others: p.refunds.filter((r) => r.id !== refundId) };
}

// The reconciler comes back while other refunds of the payment are pending.
const nextDue = (refunds: Refund[], p: Payment) => (pendingRefunds(refunds).length > 0 ? p.dueAt : null);

// A void or a dispute says more about a payment than what was refunded of it.
const afterRefund = (p: Payment, amountRefunded: number): PaymentStatus => {
  if (p.status === 'voided' || p.status === 'disputed') return p.status;
  if (amountRefunded === p.amount) return 'refunded';
  return amountRefunded === 0 ? 'succeeded' : 'partially_refunded';
};

/** The provider refunded the money. */
export function refundSucceeded(p: Payment, refundId: string, providerId: string, at: Date): Change {
  const { refund, others } = settleRefund(p, refundId);
  const done: Refund = { ...refund, status: 'succeeded', providerId, updatedAt: at };
  const refunds = p.refunds.map((r) => (r.id === refundId ? done : r));
  const amountRefunded = p.amountRefunded + refund.amount;
  const reason = `refund ${refundId} of ${refund.amount}`;
  return change(
    p,
    'refund_succeeded',
    afterRefund(p, amountRefunded),
    at,
    nextDue(others, p),
    {
      refunds,
      amountRefunded,
      reason,
    },
    [{ kind: 'refunded', refundId }],
  );
}

/**
 * The provider reports a refund nobody asked this service for (made in its
 * dashboard): recorded as a refund of its own, within what can still be refunded.
 */
export function refundedElsewhere(p: Payment, providerRefund: { id: string; amount: number }, at: Date): Change {
  if (p.status !== 'succeeded' && p.status !== 'partially_refunded' && p.status !== 'disputed') {
    throw new ConflictError(`A ${p.status} payment cannot be refunded`, 'payment_not_refundable');
  }
  // Against what no refund has taken yet, ours still pending aside: the provider made this one, and
  // one of ours that it no longer covers will be refused (settle.refund).
  const left = unrefunded(p);
  if (providerRefund.amount > left) {
    throw new ConflictError(
      `The provider reports a refund of ${providerRefund.amount}, more than the ${left} left on payment ${p.id}`,
      'refund_exceeds_remaining',
    );
  }
  const refundId = refundIdFor(p.id, p.version + 1);
  const refund: Refund = {
    ...newRefund(refundId, providerRefund.amount, 'requested_by_customer', at),
    status: 'succeeded',
    providerId: providerRefund.id,
  };
  const amountRefunded = p.amountRefunded + refund.amount;
  const reason = `refund ${providerRefund.id} of ${refund.amount}, made at the provider`;
  return change(
    p,
    'refund_succeeded',
    afterRefund(p, amountRefunded),
    at,
    p.dueAt,
    {
      refunds: [...p.refunds, refund],
      amountRefunded,
      reason,
    },
    [{ kind: 'refunded', refundId }],
  );
}

/** The customer disputed the charge: the payment stays disputed, whatever else is asked of it. */
export function markDisputed(p: Payment, dispute: Omit<Dispute, 'at'>, at: Date): Change {
  if (p.chargeId === null) throw new ConflictError(`Payment ${p.id} has no charge to dispute`, 'illegal_transition');
  return change(p, 'disputed', 'disputed', at, p.dueAt, { dispute: { ...dispute, at }, reason: dispute.reason }, [
    { kind: 'disputed' },
  ]);
}

/** The provider refused the refund: its amount can be refunded again. */
export function refundFailed(p: Payment, refundId: string, failureReason: string, at: Date): Change {
  const { refund, others } = settleRefund(p, refundId);
  const failed: Refund = { ...refund, status: 'failed', failureReason, updatedAt: at };
  const refunds = p.refunds.map((r) => (r.id === refundId ? failed : r));
  return change(p, 'refund_failed', p.status, at, nextDue(others, p), { refunds, reason: failureReason }, []);
}

/**
 * The provider reports that a refund failed after it succeeded (the card was closed): the money
 * went back to the merchant, not the payer. What it gave back is refundable again.
 */
export function refundReversed(p: Payment, refundId: string, failureReason: string, at: Date): Change {
  const refund = p.refunds.find((r) => r.id === refundId);
  if (refund?.status !== 'succeeded') {
    throw new ConflictError(`Refund ${refundId} of payment ${p.id} has not succeeded`, 'illegal_transition');
  }
  const amountRefunded = p.amountRefunded - refund.amount;
  const refunds = p.refunds.map((r) =>
    r.id === refundId ? { ...r, status: 'failed' as const, failureReason, updatedAt: at } : r,
  );
  const status = afterRefund(p, amountRefunded);
  const reason = `refund ${refund.providerId ?? refund.id} of ${refund.amount} failed after it succeeded: ${failureReason}`;
  return change(p, 'refund_reversed', status, at, p.dueAt, { refunds, amountRefunded, reason }, []);
}

/** The payment after a change: what the projection stores and what the next transition starts from. */
export function apply(p: Payment, c: Change): Payment {
  const entry: HistoryEntry = { status: c.status, at: c.at, change: c.kind, ...(c.reason ? { reason: c.reason } : {}) };
  return {
    ...p,
    status: c.status,
    version: c.version,
    chargeId: c.chargeId ?? p.chargeId,
    failureReason: c.failureReason ?? p.failureReason,
    declineCode: c.declineCode ?? p.declineCode,
    amountRefunded: c.amountRefunded ?? p.amountRefunded,
    refunds: c.refunds ?? p.refunds,
    dispute: c.dispute ?? p.dispute,
    source: c.status === 'pending' ? p.source : null,
    dueAt: c.dueAt,
    history: [...p.history, entry],
    updatedAt: c.at,
  };
}

const hexId = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 24);

/**
 * How many payments an order may take (each attempt after the first follows a failed or voided one).
 * A request tries them from the first: the bound keeps that short, and stops a card tester at one order.
 */
export const ATTEMPTS_PER_ORDER = 32;

/**
 * The payment for an order's n-th attempt has a fixed id, so that starting it is
 * the claim on the order: two requests for one order collide on one insert.
 * It is shaped as an ObjectId because the ticketing contract says payment ids are.
 */
export function paymentIdFor(orderId: string, attempt: number): string {
  return hexId(`payment:${orderId}:${attempt}`);
}

/** A payment another service asked for has an id fixed by its request: delivering the request twice pays once. */
export function paymentIdForRequest(requestId: string): string {
  return hexId(`request:${requestId}`);
}

/** A refund's id is fixed by the change that asked for it. */
export function refundIdFor(paymentId: string, version: number): string {
  return hexId(`refund:${paymentId}:${version}`);
}

/** One id per change and event, UUID-shaped: a change recorded twice still yields one event id. */
export function eventId(paymentId: string, version: number, index: number): string {
  const h = createHash('sha256').update(`${paymentId}:${version}:${index}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
