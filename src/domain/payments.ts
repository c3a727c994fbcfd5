import { createHash } from 'node:crypto';
import { Subjects } from '../events/subjects';
import {
  ConflictError,
  DeclinedError,
  InvalidInputError,
  NotAuthorizedError,
  NotFoundError,
  UpstreamUnavailableError,
} from './errors';
import type { Clock, OrderStore, OutboxEvent, Payment, PaymentProvider, PaymentStore, Settlement } from './payment';
import { assertTransition } from './payment-status';

export interface PaymentsDeps {
  orders: OrderStore;
  payments: PaymentStore;
  provider: PaymentProvider;
  clock: Clock;
  /** How long a pending payment belongs to whoever started it before the reconciler may settle it. */
  leaseMs: number;
  /** Called after an event was queued, so that the relay publishes it without waiting. */
  onEventQueued?: () => void;
}

export interface PayRequest {
  userId: string;
  orderId: string;
  source: string;
  idempotencyKey?: string;
}

type Charged = Payment & { source: string };

// Stripe keeps idempotency keys at least 24 hours; past this, a retried create is no longer safe.
export const IDEMPOTENCY_WINDOW_MS = 23 * 60 * 60 * 1000;

export function createPayments(deps: PaymentsDeps) {
  const { orders, payments, provider, clock } = deps;

  function failedEvent(p: Payment, reason: string): OutboxEvent {
    const eventId = eventIdFor(p.id, 'failed');
    return {
      id: eventId,
      subject: Subjects.PaymentFailed,
      data: { eventId, id: p.id, orderId: p.orderId, userId: p.userId, reason },
      at: clock.now(),
    };
  }

  // Every state change goes through here, so only legal transitions are ever written.
  async function transition(p: Payment, change: Settlement): Promise<Payment> {
    assertTransition(change.from, change.to);
    return afterSettle(p.id, await payments.settle(p.id, change));
  }

  async function fail(p: Payment, reason: string): Promise<Payment> {
    const at = clock.now();
    return transition(p, {
      from: 'pending',
      to: 'failed',
      at,
      reason,
      failureReason: reason,
      releaseOrder: true,
      event: failedEvent(p, reason),
    });
  }

  async function succeed(p: Payment, stripeId: string): Promise<Payment> {
    const eventId = eventIdFor(p.id, 'succeeded');
    const at = clock.now();
    return transition(p, {
      from: 'pending',
      to: 'succeeded',
      at,
      stripeId,
      event: {
        id: eventId,
        subject: Subjects.PaymentCreated,
        data: {
          eventId,
          id: p.id,
          orderId: p.orderId,
          stripeId,
          userId: p.userId,
          amount: p.amount,
          currency: p.currency,
        },
        at,
      },
    });
  }

  // A null settlement means someone else (a reconciler, a retried request) settled it first.
  async function afterSettle(id: string, settled: Payment | null): Promise<Payment> {
    if (settled) {
      deps.onEventQueued?.();
      return settled;
    }
    const current = await payments.findById(id);
    if (!current) throw new NotFoundError('Payment not found');
    return current;
  }

  /**
   * Charges a pending payment that holds its order, under an idempotency key
   * derived from the payment, so that every retry reaches the same charge.
   */
  async function settle(p: Charged): Promise<Payment> {
    try {
      const { chargeId } = await provider.charge({
        amount: p.amount,
        currency: p.currency,
        source: p.source,
        idempotencyKey: `payment-${p.id}`,
        description: `Order ${p.orderId}`,
        metadata: { paymentId: p.id, orderId: p.orderId },
      });
      return await succeed(p, chargeId);
    } catch (err) {
      if (err instanceof DeclinedError || err instanceof InvalidInputError) {
        await fail(p, err.message);
      }
      throw err;
    }
  }

  /**
   * Settles a payment older than the provider's idempotency window by looking
   * its charge up: retrying the create then could charge the card again.
   */
  async function settleByLookup(p: Charged): Promise<Payment> {
    const found = await provider.findCharge(p.id);
    if (!found) return fail(p, 'No charge was made for this payment');
    if (found.status === 'succeeded') return succeed(p, found.chargeId);
    if (found.status === 'failed') return fail(p, found.failureReason ?? 'The card was declined');
    throw new UpstreamUnavailableError(`Charge ${found.chargeId} is still pending at the provider`);
  }

  function raiseIfFailed(p: Payment): Payment {
    if (p.status === 'failed') throw new DeclinedError(p.failureReason ?? 'The payment failed');
    return p;
  }

  return {
    async pay(req: PayRequest): Promise<Payment> {
      const order = await orders.findById(req.orderId);
      if (!order) throw new NotFoundError('Order not found');
      if (order.userId !== req.userId) throw new NotAuthorizedError('Not authorized');
      if (order.status === 'cancelled') {
        throw new InvalidInputError('Cannot pay for a cancelled order', undefined, 'order_cancelled');
      }
      const now = clock.now();
      const pending = await payments.insertPending(
        {
          orderId: order.id,
          userId: req.userId,
          amount: order.amount,
          currency: order.currency,
          source: req.source,
          idempotencyKey: req.idempotencyKey ?? null,
        },
        now,
        new Date(now.getTime() + deps.leaseMs),
      );
      if (!pending) throw new ConflictError('The order already has a payment', 'order_already_paid');
      return raiseIfFailed(await settle(pending));
    },

    /**
     * Settles payments left pending past their lease (a crash, a provider
     * outage). Returns how many it settled. Safe to run on every replica.
     */
    async reconcile(limit = 50): Promise<{ settled: number; errors: unknown[] }> {
      const errors: unknown[] = [];
      let settled = 0;
      for (let i = 0; i < limit; i++) {
        const now = clock.now();
        const p = await payments.leaseStale(now, new Date(now.getTime() + deps.leaseMs));
        if (!p) break;
        try {
          const age = now.getTime() - p.createdAt.getTime();
          await (age > IDEMPOTENCY_WINDOW_MS ? settleByLookup(p) : settle(p));
          settled++;
        } catch (err) {
          if (err instanceof DeclinedError || err instanceof InvalidInputError) settled++;
          else errors.push(err);
        }
      }
      return { settled, errors };
    },
  };
}

/**
 * One id per payment and transition: if a transition were ever written twice,
 * consumers would still see one event id and drop the copy.
 */
function eventIdFor(paymentId: string, status: string): string {
  const h = createHash('sha256').update(`${paymentId}:${status}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export type Payments = ReturnType<typeof createPayments>;
