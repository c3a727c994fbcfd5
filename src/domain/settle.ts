import { DeclinedError, InvalidInputError, NotFoundError, UpstreamUnavailableError } from './errors';
import {
  apply,
  fail,
  refundFailed,
  refundSucceeded,
  succeed,
  unrefunded,
  type Change,
  type Payment,
  type Refund,
} from './payment';
import type { Clock, Payments, PaymentProvider, RefundOutcome } from './ports';

// Stripe keeps idempotency keys at least 24 hours; past this, asking for a charge or a refund again is no longer safe.
export const IDEMPOTENCY_WINDOW_MS = 23 * 60 * 60 * 1000;

const REFUND_REFUSED = 'The provider refused the refund';
const TOO_LITTLE_LEFT: RefundOutcome = {
  refundId: '',
  status: 'failed',
  failureReason: 'More than is left after refunds made at the provider',
};

/** What the asker of a refund the provider refused is answered. */
export const refundRefused = (reason: string | null) =>
  new DeclinedError(reason ?? REFUND_REFUSED, undefined, { code: 'refund_declined' });

/** What the provider says of a payment's charge. */
export type ChargeAnswer = { chargeId: string } | { refused: string; declineCode?: string; error?: Error };

// Stripe takes metadata values of at most 500 characters.
const METADATA_MAX = 500;

/** What every provider call about a payment carries, so that the payment can be found from the provider's side. */
export function metadataOf(p: Payment): Record<string, string> {
  return {
    paymentId: p.id,
    ...(p.orderId !== null && { orderId: p.orderId }),
    ...(p.request && { requestId: p.request.id.slice(0, METADATA_MAX) }),
  };
}

/**
 * Moves money with the provider and records what it answers. The request that
 * started a payment, the reconciler, a retried request, a void and a refund all
 * come here, and all ask under keys derived from what they are about, so that
 * asking twice reaches the same charge or refund.
 */
export function createSettle(deps: { payments: Payments; provider: PaymentProvider; clock: Clock }) {
  const { payments, provider, clock } = deps;

  async function load(id: string): Promise<Payment> {
    const p = await payments.load(id);
    if (!p) throw new NotFoundError('Payment not found');
    return p;
  }

  /** Records the change; when another writer recorded that version first, its decision is the answer. */
  async function commit(p: Payment, change: Change): Promise<Payment> {
    const after = apply(p, change);
    if (await payments.record(change, after)) return after;
    return load(p.id);
  }

  /**
   * Decides on the payment as it stands and records that; when another change got in
   * first, decides again on what it became. `decide` answers null when nothing is left to do.
   */
  async function commitOn(id: string, decide: (p: Payment) => Change | null): Promise<Payment> {
    for (;;) {
      const p = await load(id);
      const change = decide(p);
      if (!change) return p;
      const after = apply(p, change);
      if (await payments.record(change, after)) return after;
    }
  }

  /**
   * Asks the provider about a pending payment's charge under the payment's own key; for a
   * payment older than the provider keeps keys, looks its charge up instead of asking again.
   */
  async function ask(p: Payment): Promise<ChargeAnswer> {
    if (clock.now().getTime() - p.createdAt.getTime() > IDEMPOTENCY_WINDOW_MS) {
      const found = await provider.findCharge(p.id, p.request ? 'saved' : 'card');
      if (!found) return { refused: 'No charge was made for this payment' };
      if (found.status === 'succeeded') return { chargeId: found.chargeId };
      if (found.status === 'failed') return { refused: found.failureReason ?? 'The card was declined' };
      throw new UpstreamUnavailableError(`Charge ${found.chargeId} is still pending at the provider`);
    }
    if (p.source === null) return { refused: 'The card token is gone' };
    const common = { amount: p.amount, currency: p.currency, idempotencyKey: `payment-${p.id}` };
    try {
      const { chargeId } = p.request
        ? await provider.chargeSaved({
            ...common,
            paymentMethod: p.source,
            customerId: p.request.customerId,
            metadata: {
              ...metadataOf(p),
              ...(p.request.description !== null && { description: p.request.description.slice(0, METADATA_MAX) }),
            },
          })
        : await provider.charge({
            ...common,
            source: p.source,
            description: `Order ${p.orderId}`,
            metadata: metadataOf(p),
          });
      return { chargeId };
    } catch (err) {
      if (err instanceof DeclinedError) {
        return { refused: err.message, error: err, ...(err.declineCode && { declineCode: err.declineCode }) };
      }
      if (err instanceof InvalidInputError) return { refused: err.message, error: err };
      throw err;
    }
  }

  /**
   * For a refund older than the provider keeps keys: asking under its key again could make a
   * second one. What the provider made for it is looked up by the refundId its metadata carries;
   * none made, it failed, and its amount is free to be asked for again.
   */
  async function refundMade(chargeId: string, refundId: string): Promise<RefundOutcome> {
    const made = (await provider.refundsOf(chargeId)).refunds.find((r) => r.refundId === refundId);
    if (!made) return { refundId: '', status: 'failed', failureReason: 'No refund was made for it in time' };
    return { refundId: made.id, status: made.status, ...(made.failureReason && { failureReason: made.failureReason }) };
  }

  /** Asks for a pending refund under its key; older than the provider keeps keys, looks it up instead. */
  function askRefund(p: Payment, chargeId: string, refund: Refund): Promise<RefundOutcome> {
    if (clock.now().getTime() - refund.createdAt.getTime() > IDEMPOTENCY_WINDOW_MS)
      return refundMade(chargeId, refund.id);
    return provider.refund({
      chargeId,
      amount: refund.amount,
      currency: p.currency,
      idempotencyKey: `refund-${refund.id}`,
      metadata: { ...metadataOf(p), refundId: refund.id, reason: refund.reason },
    });
  }

  return {
    commitOn,
    ask,

    /** Settles a pending payment; a settled one is returned as it is. Throws the provider's refusal. */
    async settle(p: Payment): Promise<Payment> {
      if (p.status !== 'pending') return p;
      const answer = await ask(p);
      if ('chargeId' in answer) return commit(p, succeed(p, answer.chargeId, clock.now()));
      const settled = await commit(p, fail(p, answer.refused, clock.now(), answer.declineCode));
      if (settled.status === 'failed' && answer.error) throw answer.error;
      return settled;
    },

    /** Asks the provider for a pending refund under a key derived from the refund, and records the answer. */
    async refund(p: Payment, refundId: string): Promise<Payment> {
      const refund = p.refunds.find((r) => r.id === refundId);
      if (!refund || refund.status !== 'pending') return p;
      if (p.chargeId === null) throw new Error(`Payment ${p.id} has a refund but no charge`);
      const stillPending = (q: Payment) => q.refunds.some((r) => r.id === refundId && r.status === 'pending');
      let answer: RefundOutcome;
      try {
        // A refund made at the provider since it was set aside left too little: the provider would
        // refuse it (a stand-in might not), so it fails unasked.
        answer = refund.amount > unrefunded(p) ? TOO_LITTLE_LEFT : await askRefund(p, p.chargeId, refund);
      } catch (err) {
        if (!(err instanceof InvalidInputError || err instanceof DeclinedError)) throw err;
        answer = { refundId: '', status: 'failed' as const, failureReason: err.message };
      }
      if (answer.status === 'pending')
        throw new UpstreamUnavailableError('The refund is still pending at the provider');
      const { refundId: providerId, failureReason } = answer;
      if (answer.status === 'succeeded') {
        return commitOn(p.id, (q) => (stillPending(q) ? refundSucceeded(q, refundId, providerId, clock.now()) : null));
      }
      const reason = failureReason ?? REFUND_REFUSED;
      await commitOn(p.id, (q) => (stillPending(q) ? refundFailed(q, refundId, reason, clock.now()) : null));
      throw refundRefused(reason);
    },
  };
}

export type Settle = ReturnType<typeof createSettle>;
