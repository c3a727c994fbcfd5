import { DeclinedError, InvalidInputError, UpstreamUnavailableError } from './errors';
import { paymentIdForRequest, start, type Payment, type RequestDetails } from './payment';
import type { Clock, Payments } from './ports';
import type { Settle } from './settle';

/** Another service's request for a payment with a payment method the customer saved. */
export interface PaymentRequest extends RequestDetails {
  userId: string;
  email: string | null;
  paymentMethod: string;
  /** Minor units of `currency`. */
  amount: number;
  currency: string;
}

export type RequestOutcome = 'succeeded' | 'failed' | 'pending' | 'duplicate';

/** The same request delivered again, or another one under a request id already taken. */
function sameRequest(p: Payment, req: PaymentRequest): boolean {
  return p.request?.id === req.id && p.userId === req.userId && p.amount === req.amount && p.currency === req.currency;
}

/**
 * Pays what another service asks for: one request id is one payment (its id is
 * derived from it), charged with the saved payment method while the customer is
 * away. A decline is an outcome, recorded and told like a success; a provider
 * outage leaves the payment pending for the reconciler, so the request is never
 * charged again by its redelivery.
 */
export function createRequestPayment(deps: {
  payments: Payments;
  settle: Settle;
  clock: Clock;
  settleAfterMs: number;
}) {
  const { payments, settle, clock } = deps;

  return async function requestPayment(req: PaymentRequest): Promise<{ outcome: RequestOutcome; payment: Payment }> {
    const at = clock.now();
    const fresh = start({
      id: paymentIdForRequest(req.id),
      orderId: null,
      userId: req.userId,
      email: req.email,
      request: { id: req.id, customerId: req.customerId, reference: req.reference, description: req.description },
      amount: req.amount,
      currency: req.currency,
      source: req.paymentMethod,
      requestKey: null,
      at,
      dueAt: new Date(at.getTime() + deps.settleAfterMs),
    });
    const started = await payments.start(fresh);
    const p = started ? fresh : await payments.load(fresh.id);
    if (!p) throw new Error(`Payment ${fresh.id} is taken but cannot be read`);
    if (!sameRequest(p, req)) {
      throw new InvalidInputError(`Request ${req.id} already paid for something else (payment ${p.id})`, 'requestId');
    }
    if (!started && p.status !== 'pending') return { outcome: 'duplicate', payment: p };
    try {
      const settled = await settle.settle(p);
      return { outcome: settled.status === 'failed' ? 'failed' : 'succeeded', payment: settled };
    } catch (err) {
      if (err instanceof DeclinedError || err instanceof InvalidInputError) {
        return { outcome: 'failed', payment: (await payments.load(p.id)) ?? p };
      }
      // The outcome is unknown: the payment waits for the reconciler, which asks again under its key.
      if (err instanceof UpstreamUnavailableError) return { outcome: 'pending', payment: p };
      throw err;
    }
  };
}

export type RequestPayment = ReturnType<typeof createRequestPayment>;
