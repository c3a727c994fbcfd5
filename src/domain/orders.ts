import { DeclinedError, OutOfOrderError, UpstreamUnavailableError } from './errors';
import { toMinorUnits } from './money';
import { ATTEMPTS_PER_ORDER, canRefund, paymentIdFor, type Payment } from './payment';
import type { Clock, Order, Orders, Payments } from './ports';
import type { RefundPayment } from './refund';

export interface OrderCreated {
  id: string;
  version: number;
  status: string;
  userId: string;
  /** Major units, as the orders service sends it. */
  price: number;
  currency: string;
}

/** Whether a payment id is one this service gives to an attempt at the order. */
function isOurs(paymentId: string, orderId: string): boolean {
  for (let attempt = 0; attempt < ATTEMPTS_PER_ORDER; attempt++) {
    if (paymentIdFor(orderId, attempt) === paymentId) return true;
  }
  return false;
}

/** What stands in for an order not seen yet, holding what was said of it. */
function standIn(id: string, said: Partial<Pick<Order, 'status' | 'version' | 'paidBy'>>): Order {
  return {
    id,
    version: 0,
    status: 'created',
    userId: '',
    amount: 0,
    currency: '',
    paidBy: null,
    arrived: false,
    ...said,
  };
}

/**
 * Keeps the local copy of orders that payments are checked against, and answers
 * for the money of an order cancelled after it was paid. Redelivery and
 * duplicates change nothing.
 */
export function createOrderEvents(deps: {
  orders: Orders;
  payments: Payments;
  refund: RefundPayment;
  clock: Clock;
  /** How long a payment may take before the reconciler settles it. */
  settleAfterMs: number;
}) {
  const { orders, payments, clock } = deps;

  /**
   * The order's payment that took its money, if one did: the first attempt that did not
   * fail. Else the id the order's next payment will have, if it may take one.
   */
  async function paymentOf(order: Order): Promise<Payment | { next: string } | null> {
    // One of ours that a payment:created named (ours from before payment ids were fixed by the order, too).
    const named = order.paidBy === null ? null : await payments.load(order.paidBy);
    if (named && named.status !== 'failed' && named.status !== 'voided') return named;
    for (let attempt = 0; attempt < ATTEMPTS_PER_ORDER; attempt++) {
      const next = paymentIdFor(order.id, attempt);
      const p = await payments.load(next);
      if (!p) return { next };
      if (p.status !== 'failed' && p.status !== 'voided') return p;
    }
    return null;
  }

  /** Refunds all of a payment that went through for an order that is cancelled: the ticket was released. */
  async function refundIfPaid(order: Order): Promise<boolean> {
    const p = await paymentOf(order);
    // Every attempt failed: nothing was taken, and no payment can start.
    if (p === null) return false;
    if ('next' in p) {
      // A request that read the order before the cancel may be starting its payment now: once it had
      // the time to settle it, the reconciler looks, and gives the money back (refundIfCancelled).
      await payments.lookAtLater(p.next, new Date(clock.now().getTime() + deps.settleAfterMs));
      return false;
    }
    // Retried until it is settled; if it stays pending past the retries, the reconciler refunds it once it settles.
    if (p.status === 'pending')
      throw new OutOfOrderError(`Payment ${p.id} of cancelled order ${order.id} is not settled yet`);
    return refundHeld(p);
  }

  async function refundHeld(p: Payment): Promise<boolean> {
    const asked = p.refunds.some((r) => r.reason === 'order_cancelled' && r.status !== 'failed');
    if (asked || !canRefund(p)) return false;
    try {
      await deps.refund({ paymentId: p.id, reason: 'order_cancelled' });
    } catch (err) {
      // Asked for and set aside; the reconciler gets it through once the provider is back.
      if (!(err instanceof UpstreamUnavailableError)) throw err;
    }
    return true;
  }

  return {
    /**
     * Gives back the money of a payment settled after its order was cancelled: the cancel
     * found it pending, and its retries may have run out before it settled (the reconciler
     * settles what stays pending).
     */
    async refundIfCancelled(p: Payment): Promise<boolean> {
      // Failed, disputed, or voided without a charge: nothing of it to give back here.
      if (p.orderId === null || !canRefund(p)) return false;
      const order = await orders.get(p.orderId);
      return order?.status === 'cancelled' ? refundHeld(p) : false;
    },

    async created(e: OrderCreated): Promise<'inserted' | 'duplicate'> {
      const { amount, currency } = toMinorUnits(e.price, e.currency);
      const order = { id: e.id, version: e.version, status: e.status, userId: e.userId, amount, currency };
      if (await orders.add({ ...order, paidBy: null, arrived: true })) return 'inserted';
      const held = await orders.get(e.id);
      if (held?.arrived !== false) return 'duplicate';
      // A parked cancel or payment:created left a stand-in: the order comes with what they said.
      await orders.arrive(order);
      return 'inserted';
    },

    /** A cancel parked while it waited for its order: the order, if it comes, comes cancelled. */
    async keepCancel(e: { id: string; version: number }): Promise<void> {
      if (await orders.add(standIn(e.id, { status: 'cancelled', version: e.version }))) return;
      await orders.cancel(e.id, e.version);
    },

    /** Another service's payment:created parked while it waited for its order: the order, if it comes, comes paid. */
    async keepPaid(e: { id: string; orderId?: string | undefined }): Promise<void> {
      if (e.orderId === undefined || isOurs(e.id, e.orderId)) return;
      if (await orders.add(standIn(e.orderId, { paidBy: e.id }))) return;
      if ((await orders.get(e.orderId))?.paidBy === null) await orders.paid(e.orderId, e.id);
    },

    /**
     * A cancel is final, whatever version it carries (the ticketing orders service sends
     * version 0 when a user cancels). One for an order not seen yet waits for it. An order
     * cancelled after its payment went through is refunded in full.
     */
    async cancelled(e: {
      id: string;
      version: number;
    }): Promise<'cancelled' | 'duplicate' | 'refunded_on_cancel' | 'refund_refused'> {
      const order = await orders.get(e.id);
      if (!order) throw new OutOfOrderError(`Order ${e.id} not seen yet`);
      const already = order.status === 'cancelled';
      if (!already) await orders.cancel(e.id, e.version);
      try {
        if (await refundIfPaid(order)) return 'refunded_on_cancel';
      } catch (err) {
        // The refusal is recorded on the payment (a failed refund) for an admin; asking again at
        // every delivery would only record more of them.
        if (err instanceof DeclinedError) return 'refund_refused';
        throw err;
      }
      return already ? 'duplicate' : 'cancelled';
    },

    /** A payment went through for the order, here or in another payments service: no other may. */
    async paid(e: {
      id: string;
      orderId?: string | undefined;
    }): Promise<'recorded' | 'duplicate' | 'ours' | 'not_an_order'> {
      // A payment another service requested pays for no order.
      if (e.orderId === undefined) return 'not_an_order';
      // One of ours holds the order already by its id, fixed by the order's attempt: reading and
      // writing the order again would cost every payment two more database commands.
      if (isOurs(e.id, e.orderId)) return 'ours';
      const order = await orders.get(e.orderId);
      if (!order) throw new OutOfOrderError(`Order ${e.orderId} not seen yet`);
      if (order.paidBy !== null) return 'duplicate';
      await orders.paid(order.id, e.id);
      return 'recorded';
    },
  };
}

export type OrderEvents = ReturnType<typeof createOrderEvents>;
