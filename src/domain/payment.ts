import { createHash } from 'node:crypto';
import { ConflictError } from './errors';

export const PAYMENT_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

// The whole lifecycle: a payment is recorded pending before the provider is
// called, and settles exactly once.
const NEXT: Record<PaymentStatus, readonly PaymentStatus[]> = {
  pending: ['succeeded', 'failed'],
  succeeded: [],
  failed: [],
};

export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
  return NEXT[from].includes(to);
}

export interface HistoryEntry {
  status: PaymentStatus;
  at: Date;
  reason?: string;
}

export interface Payment {
  id: string;
  orderId: string;
  userId: string;
  /** Minor units of `currency`. */
  amount: number;
  currency: string;
  status: PaymentStatus;
  /** How many changes have been recorded since the payment was started. */
  version: number;
  /** The provider's charge, once there is one. */
  chargeId: string | null;
  failureReason: string | null;
  /** The card token, kept only while the payment is pending so that its charge can be asked for again. */
  source: string | null;
  /** Identifies the request that started the payment (an Idempotency-Key), so that its retry can resume it. */
  requestKey: string | null;
  /** While pending: from when the reconciler may settle it. */
  dueAt: Date | null;
  history: HistoryEntry[];
  createdAt: Date;
  updatedAt: Date;
}

/** Something that happened to a payment, in the domain's words; events/publications.ts puts it on the wire. */
export interface PaymentEvent {
  /** Derived from the change, so that every copy of it carries the same id. */
  id: string;
  kind: 'succeeded' | 'failed';
}

/** One step of a payment's life: what a transition decided, recorded once under (paymentId, version). */
export interface Change {
  paymentId: string;
  /** The version this change creates: the payment's version + 1. */
  version: number;
  at: Date;
  status: PaymentStatus;
  chargeId?: string;
  failureReason?: string;
  events: PaymentEvent[];
}

export function start(input: {
  id: string;
  orderId: string;
  userId: string;
  amount: number;
  currency: string;
  source: string;
  requestKey: string | null;
  at: Date;
  dueAt: Date;
}): Payment {
  const { at, ...fields } = input;
  return {
    ...fields,
    status: 'pending',
    version: 0,
    chargeId: null,
    failureReason: null,
    history: [{ status: 'pending', at }],
    createdAt: at,
    updatedAt: at,
  };
}

function change(p: Payment, to: PaymentStatus, at: Date, fields: Pick<Change, 'chargeId' | 'failureReason'>): Change {
  if (!canTransition(p.status, to)) {
    throw new ConflictError(`A ${p.status} payment cannot become ${to}`, 'illegal_transition');
  }
  const version = p.version + 1;
  const kind = to === 'succeeded' ? 'succeeded' : 'failed';
  return { paymentId: p.id, version, at, status: to, ...fields, events: [{ id: eventId(p.id, version, 0), kind }] };
}

/** The provider charged the card. */
export function succeed(p: Payment, chargeId: string, at: Date): Change {
  return change(p, 'succeeded', at, { chargeId });
}

/** The provider refused the charge, or it was never made; the order may be paid again. */
export function fail(p: Payment, reason: string, at: Date): Change {
  return change(p, 'failed', at, { failureReason: reason });
}

/** The payment after a change: what the projection stores and what the next transition starts from. */
export function apply(p: Payment, c: Change): Payment {
  const settled = c.status !== 'pending';
  return {
    ...p,
    status: c.status,
    version: c.version,
    chargeId: c.chargeId ?? p.chargeId,
    failureReason: c.failureReason ?? p.failureReason,
    source: settled ? null : p.source,
    dueAt: settled ? null : p.dueAt,
    history: [...p.history, { status: c.status, at: c.at, ...(c.failureReason ? { reason: c.failureReason } : {}) }],
    updatedAt: c.at,
  };
}

/**
 * The payment for an order's n-th attempt has a fixed id, so that starting it is
 * the claim on the order: two requests for one order collide on one insert.
 * It is shaped as an ObjectId because the ticketing contract says payment ids are.
 */
export function paymentIdFor(orderId: string, attempt: number): string {
  return createHash('sha256').update(`payment:${orderId}:${attempt}`).digest('hex').slice(0, 24);
}

/** One id per change and event, UUID-shaped: a change recorded twice still yields one event id. */
export function eventId(paymentId: string, version: number, index: number): string {
  const h = createHash('sha256').update(`${paymentId}:${version}:${index}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
