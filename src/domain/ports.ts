import type { Change, Payment } from './payment';

/** What the domain needs from the world, said in its own words; db/, providers/ and main.ts provide it. */

export interface Clock {
  now(): Date;
}

/**
 * The local copy of an order, written only from the orders service's events (and another payments
 * service's payment:created). A payment never writes it: FerretDB applies an update as a read, then a
 * write of the whole document, so a payment's write on one replica could undo a cancel another wrote.
 */
export interface Order {
  id: string;
  version: number;
  status: string;
  userId: string;
  amount: number;
  currency: string;
  /** A payment that paid the order, as another payments service told (payment:created). */
  paidBy: string | null;
  /**
   * False for a stand-in: what a cancel or a payment:created said of an order not seen yet, kept when
   * it gave up waiting for the order (parked), so that the order comes cancelled or paid if it comes.
   */
  arrived: boolean;
}

export interface Orders {
  get(id: string): Promise<Order | null>;
  /** False when the order is already known: its first copy wins. */
  add(order: Order): Promise<boolean>;
  /** Gives a stand-in what its order:created says; what was said of the order before stays. */
  arrive(order: Pick<Order, 'id' | 'userId' | 'amount' | 'currency'>): Promise<void>;
  /** A cancel is final whatever its version; the stored version never goes back. */
  cancel(id: string, version: number): Promise<void>;
  /** Remembers a payment that paid the order. */
  paid(id: string, paymentId: string): Promise<void>;
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
  /** What is left pending (charges, refunds), soonest due first: the reconciler's work. */
  unsettled(limit: number): Promise<Unsettled[]>;
  /** Leaves an unsettled payment until `dueAt` (after a failed attempt to settle it). */
  postpone(paymentId: string, dueAt: Date): Promise<void>;
  /** Has the reconciler look at a payment at `at`, whether or not it is stored yet (its start may be under way). */
  lookAtLater(paymentId: string, at: Date): Promise<void>;
  /**
   * The reconciler looked at `item` and found the payment as `found` (null: never stored):
   * once nothing of it is pending, it is no longer listed.
   */
  reconciled(item: Unsettled, found: Payment | null): Promise<void>;
}

/** Something of a payment left pending: its charge, or what a later change started (a refund). */
export interface Unsettled {
  paymentId: string;
  /** The version that left it pending: 0, the payment's start, for its charge. */
  version: number;
  /** From when the reconciler may settle it. */
  dueAt: Date;
  /** When it started to be pending. */
  since: Date;
}

export interface ChargeRequest {
  amount: number;
  currency: string;
  source: string;
  idempotencyKey: string;
  description: string;
  metadata: Record<string, string>;
}

/** A charge of a payment method the customer saved earlier, made while the customer is away (off-session). */
export interface SavedMethodChargeRequest {
  amount: number;
  currency: string;
  paymentMethod: string;
  customerId: string | null;
  idempotencyKey: string;
  metadata: Record<string, string>;
}

export interface RefundRequest {
  chargeId: string;
  amount: number;
  currency: string;
  idempotencyKey: string;
  metadata: Record<string, string>;
}

export interface RefundOutcome {
  refundId: string;
  /** `pending`: the provider has not finished it yet (ask again later). */
  status: 'succeeded' | 'pending' | 'failed';
  failureReason?: string;
}

export interface FoundCharge {
  chargeId: string;
  status: 'succeeded' | 'failed' | 'pending';
  failureReason?: string;
}

/** A payment's charge as the provider has it now: `paymentId` from the metadata every charge carries. */
export interface ChargeState {
  paymentId: string | null;
  status: 'succeeded' | 'failed' | 'pending';
  chargeId: string | null;
  failureReason?: string;
  declineCode?: string;
}

/** A refund as the provider has it now; `refundId` is ours, when this service asked for it. */
export interface ProviderRefund {
  id: string;
  amount: number;
  status: 'succeeded' | 'failed' | 'pending';
  refundId: string | null;
  failureReason?: string;
}

export interface ProviderDispute {
  id: string;
  /** The charge disputed. */
  chargeId: string;
  paymentId: string | null;
  amount: number;
  reason: string;
}

/**
 * The payment provider. `charge` resolves with the provider's charge id, or throws
 * DeclinedError, InvalidInputError (token rejected) or UpstreamUnavailableError
 * (outcome unknown: ask again under the same key).
 */
export interface PaymentProvider {
  charge(request: ChargeRequest): Promise<{ chargeId: string }>;
  /**
   * Like `charge`, for a saved payment method. A card that needs its holder to authenticate is
   * declined with the decline code `authentication_required`: nobody is there to do it.
   */
  chargeSaved(request: SavedMethodChargeRequest): Promise<{ chargeId: string }>;
  /**
   * Finds the charge made for a payment by its metadata, for payments older than the provider
   * keeps keys; `saved` for a payment made by `chargeSaved`.
   */
  findCharge(paymentId: string, how: 'card' | 'saved'): Promise<FoundCharge | null>;
  /**
   * Refunds (part of) a charge; asking again under the same key reaches the same refund and
   * says where it stands now. Throws InvalidInputError when the provider refuses it, and
   * UpstreamUnavailableError when the outcome is unknown.
   */
  refund(request: RefundRequest): Promise<RefundOutcome>;
  /**
   * What the provider has now, read again when it reports a change: its reports say
   * where to look, not what to record.
   */
  paymentState(intentId: string): Promise<ChargeState>;
  refundsOf(chargeId: string): Promise<{ paymentId: string | null; refunds: ProviderRefund[] }>;
  dispute(disputeId: string): Promise<ProviderDispute>;
}
