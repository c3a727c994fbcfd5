import type { PublishedEvents } from '../events/subjects';
import type { PaymentStatus } from './payment-status';

export interface HistoryEntry {
  status: PaymentStatus;
  at: Date;
  reason?: string;
}

/** An event waiting in the payment's outbox, written with the state change that caused it. */
export type OutboxEvent = {
  [S in keyof PublishedEvents]: { id: string; subject: S; data: PublishedEvents[S]; at: Date };
}[keyof PublishedEvents];

export interface Payment {
  id: string;
  orderId: string;
  userId: string;
  amount: number;
  currency: string;
  status: PaymentStatus;
  stripeId: string | null;
  failureReason: string | null;
  idempotencyKey: string | null;
  history: HistoryEntry[];
  createdAt: Date;
  updatedAt: Date;
}

export interface NewPayment {
  orderId: string;
  userId: string;
  amount: number;
  currency: string;
  source: string;
  idempotencyKey: string | null;
}

export interface Order {
  id: string;
  version: number;
  status: string;
  userId: string;
  amount: number;
  currency: string;
}

/** Everything the domain needs from storage; db/ implements it. */
export interface OrderStore {
  findById(id: string): Promise<Order | null>;
  insert(order: Order): Promise<'inserted' | 'duplicate'>;
  /** Applies the cancellation only when the stored version is `version - 1`. */
  cancel(id: string, version: number): Promise<boolean>;
}

export interface Settlement {
  from: PaymentStatus;
  to: PaymentStatus;
  at: Date;
  reason?: string;
  stripeId?: string;
  failureReason?: string;
  /** Lets the order be paid again (a failed payment). */
  releaseOrder?: boolean;
  event: OutboxEvent;
}

export interface PaymentStore {
  /**
   * Records a pending payment that holds its order, in one insert that a unique
   * index makes atomic; null when another pending or succeeded payment holds the order.
   */
  insertPending(payment: NewPayment, at: Date, leaseUntil: Date): Promise<(Payment & { source: string }) | null>;
  findById(id: string): Promise<Payment | null>;
  /** Atomic: applies the transition and queues its event only if the status is still `from`. */
  settle(id: string, change: Settlement): Promise<Payment | null>;
  /** Leases one payment left pending past its lease; a unique insert makes the lease exclusive across replicas. */
  leaseStale(now: Date, leaseUntil: Date): Promise<(Payment & { source: string }) | null>;
}

export interface ChargeRequest {
  amount: number;
  currency: string;
  source: string;
  idempotencyKey: string;
  description: string;
  metadata: Record<string, string>;
}

/**
 * The payment provider port. `charge` resolves with the provider's charge id,
 * or throws DeclinedError, InvalidInputError (token rejected) or
 * UpstreamUnavailableError (outcome unknown: retry under the same key).
 */
export interface PaymentProvider {
  charge(request: ChargeRequest): Promise<{ chargeId: string }>;
  /**
   * Finds the charge made for a payment (by its metadata), for payments older
   * than the provider keeps idempotency keys; null when none was made.
   */
  findCharge(paymentId: string): Promise<FoundCharge | null>;
}

export interface FoundCharge {
  chargeId: string;
  status: 'succeeded' | 'failed' | 'pending';
  failureReason?: string;
}

export interface Clock {
  now(): Date;
}
