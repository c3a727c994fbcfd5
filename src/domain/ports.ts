import type { Change, Payment } from './payment';

/** What the domain needs from the world, said in its own words; db/, providers/ and main.ts provide it. */

export interface Clock {
  now(): Date;
}

/** The local copy of an order, from the orders service's events. */
export interface Order {
  id: string;
  version: number;
  status: string;
  userId: string;
  amount: number;
  currency: string;
  /** The attempt a new payment for the order starts from: failed attempts before it are over. */
  attempt: number;
}

export interface Orders {
  get(id: string): Promise<Order | null>;
  /** False when the order is already known: its first copy wins. */
  add(order: Order): Promise<boolean>;
  /** A cancel is final whatever its version; the stored version never goes back. */
  cancel(id: string, version: number): Promise<void>;
  /** Remembers that attempts before `attempt` are over, so that the next payment starts there. */
  skipTo(id: string, attempt: number): Promise<void>;
}

export interface Payments {
  /** Records a new payment; false when its id is taken (another request holds that attempt of the order). */
  start(p: Payment): Promise<boolean>;
  /**
   * Records a change and its consequences; false when another writer recorded that
   * version of the payment first (then `load` gives what it decided).
   */
  record(change: Change, after: Payment): Promise<boolean>;
  /** The payment with every recorded change, also those not yet applied to its stored copy. */
  load(id: string): Promise<Payment | null>;
  /** Pending payments, oldest first: the reconciler settles those whose dueAt has passed. */
  pending(limit: number): Promise<Payment[]>;
  /** Leaves a pending payment until `dueAt` (after a failed attempt to settle it). */
  postpone(id: string, dueAt: Date): Promise<void>;
}

export interface ChargeRequest {
  amount: number;
  currency: string;
  source: string;
  idempotencyKey: string;
  description: string;
  metadata: Record<string, string>;
}

export interface FoundCharge {
  chargeId: string;
  status: 'succeeded' | 'failed' | 'pending';
  failureReason?: string;
}

/**
 * The payment provider. `charge` resolves with the provider's charge id, or throws
 * DeclinedError, InvalidInputError (token rejected) or UpstreamUnavailableError
 * (outcome unknown: ask again under the same key).
 */
export interface PaymentProvider {
  charge(request: ChargeRequest): Promise<{ chargeId: string }>;
  /** Finds the charge made for a payment by its metadata, for payments older than the provider keeps keys. */
  findCharge(paymentId: string): Promise<FoundCharge | null>;
}
