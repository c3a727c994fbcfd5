import { ConflictError, DeclinedError, InvalidInputError, NotAuthorizedError, NotFoundError } from './errors';
import { ATTEMPTS_PER_ORDER, paymentIdFor, start, type Payment } from './payment';
import type { Clock, Orders, Payments } from './ports';
import type { Settle } from './settle';

export interface PayRequest {
  userId: string;
  /** From the session: where the payer hears about the outcome. */
  email: string | null;
  orderId: string;
  /** The card token from the browser. */
  source: string;
  /** Set when the client sent an Idempotency-Key: its retry resumes this payment instead of being refused. */
  requestKey: string | null;
}

/**
 * A retry of the request that started the payment (its Idempotency-Key): it ends as that payment
 * ended, a decline or a void included, never in a new attempt that would charge the card again.
 */
const sameRequest = (p: Payment, req: PayRequest) => req.requestKey !== null && p.requestKey === req.requestKey;

/** Pays an order: checks it, starts one payment for it, charges the card and records the outcome. */
export function createPay(deps: {
  orders: Orders;
  payments: Payments;
  settle: Settle;
  clock: Clock;
  settleAfterMs: number;
}) {
  const { orders, payments, settle, clock } = deps;

  /** The payment the request ends with, or its refusal. */
  function answer(p: Payment): Payment {
    if (p.status === 'failed') throw new DeclinedError(p.failureReason ?? 'The payment failed');
    // Voided by an admin while the request charged it: its charge goes back, the order is not paid.
    if (p.status === 'voided') throw new ConflictError('The payment was voided', 'payment_voided');
    return p;
  }

  return async function pay(req: PayRequest): Promise<Payment> {
    const order = await orders.get(req.orderId);
    if (!order?.arrived) throw new NotFoundError('Order not found');
    if (order.userId !== req.userId) throw new NotAuthorizedError('Not authorized');
    if (order.status === 'cancelled') {
      throw new InvalidInputError('Cannot pay for a cancelled order', undefined, 'order_cancelled');
    }
    if (order.paidBy !== null) {
      // Paid, as a payment:created said: by another payments service, or by one of ours.
      const holder = await payments.load(order.paidBy);
      if (holder && sameRequest(holder, req)) return answer(await settle.settle(holder));
      if (holder?.status !== 'failed' && holder?.status !== 'voided') {
        throw new ConflictError('The order already has a payment', 'order_already_paid');
      }
    }
    // Each attempt at the order is one payment id; a failed attempt is over and the next one is free.
    // Tried from the first each time: remembering the next one would be a write into the order (ports.ts).
    for (let attempt = 0; attempt < ATTEMPTS_PER_ORDER; attempt++) {
      const at = clock.now();
      const payment = start({
        id: paymentIdFor(order.id, attempt),
        orderId: order.id,
        userId: req.userId,
        email: req.email,
        amount: order.amount,
        currency: order.currency,
        source: req.source,
        requestKey: req.requestKey,
        at,
        dueAt: new Date(at.getTime() + deps.settleAfterMs),
      });
      if (await payments.start(payment)) return answer(await settle.settle(payment));
      const held = await payments.load(payment.id);
      if (!held) throw new Error(`Payment ${payment.id} is taken but cannot be read`);
      if (sameRequest(held, req)) return answer(await settle.settle(held));
      if (held.status === 'failed' || held.status === 'voided') continue;
      throw new ConflictError('The order already has a payment', 'order_already_paid');
    }
    throw new ConflictError('The order has had too many failed payments', 'order_attempts_exhausted');
  };
}

export type Pay = ReturnType<typeof createPay>;
