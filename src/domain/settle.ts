import { DeclinedError, InvalidInputError, NotFoundError, UpstreamUnavailableError } from './errors';
import { apply, fail, succeed, type Change, type Payment } from './payment';
import type { Clock, Payments, PaymentProvider } from './ports';

// Stripe keeps idempotency keys at least 24 hours; past this, asking for the charge again is no longer safe.
export const IDEMPOTENCY_WINDOW_MS = 23 * 60 * 60 * 1000;

/**
 * Settles pending payments with the provider: the request that started one, the
 * reconciler and a retried request all come here, and all ask under the same key.
 */
export function createSettle(deps: { payments: Payments; provider: PaymentProvider; clock: Clock }) {
  const { payments, provider, clock } = deps;

  /** Records the change; when another writer recorded that version first, its decision is the answer. */
  async function commit(p: Payment, change: Change): Promise<Payment> {
    const after = apply(p, change);
    if (await payments.record(change, after)) return after;
    const current = await payments.load(p.id);
    if (!current) throw new NotFoundError('Payment not found');
    return current;
  }

  /** Asks the provider for the payment's charge under a key derived from the payment, so a retry reaches the same charge. */
  async function charge(p: Payment): Promise<Payment> {
    if (p.source === null) return commit(p, fail(p, 'The card token is gone', clock.now()));
    try {
      const { chargeId } = await provider.charge({
        amount: p.amount,
        currency: p.currency,
        source: p.source,
        idempotencyKey: `payment-${p.id}`,
        description: `Order ${p.orderId}`,
        metadata: { paymentId: p.id, orderId: p.orderId },
      });
      return await commit(p, succeed(p, chargeId, clock.now()));
    } catch (err) {
      if (!(err instanceof DeclinedError || err instanceof InvalidInputError)) throw err;
      const settled = await commit(p, fail(p, err.message, clock.now()));
      if (settled.status === 'failed') throw err;
      return settled;
    }
  }

  /** For payments older than the provider keeps keys: their charge is looked up, never asked for again. */
  async function lookUp(p: Payment): Promise<Payment> {
    const found = await provider.findCharge(p.id);
    if (!found) return commit(p, fail(p, 'No charge was made for this payment', clock.now()));
    if (found.status === 'succeeded') return commit(p, succeed(p, found.chargeId, clock.now()));
    if (found.status === 'failed')
      return commit(p, fail(p, found.failureReason ?? 'The card was declined', clock.now()));
    throw new UpstreamUnavailableError(`Charge ${found.chargeId} is still pending at the provider`);
  }

  return {
    charge,
    /** Settles a pending payment however old it is; a settled one is returned as it is. */
    async settle(p: Payment): Promise<Payment> {
      if (p.status !== 'pending') return p;
      const age = clock.now().getTime() - p.createdAt.getTime();
      return age > IDEMPOTENCY_WINDOW_MS ? lookUp(p) : charge(p);
    },
  };
}

export type Settle = ReturnType<typeof createSettle>;
