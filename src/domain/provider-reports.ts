import { UpstreamUnavailableError } from './errors';
import {
  chargedAfterVoid,
  fail,
  markDisputed,
  refundedElsewhere,
  refundFailed,
  refundIdFor,
  refundReversed,
  refundSucceeded,
  succeed,
  type Change,
  type Payment,
} from './payment';
import type { Clock, Payments, PaymentProvider, ProviderRefund } from './ports';
import type { Settle } from './settle';

/** What became of a report: `not_ours` when it is about no payment of this service. */
export type ReportOutcome = 'recorded' | 'unchanged' | 'not_ours';

/**
 * What the provider reports later, on its own (webhooks): outcomes that arrive
 * after the call that asked for them, refunds made in its dashboard, disputes.
 * A report only says where to look: the payment's state is read again from the
 * provider, and recorded through the same transitions and the same collision on
 * the payment's next version as every other writer's.
 */
export function createProviderReports(deps: {
  payments: Payments;
  provider: PaymentProvider;
  settle: Settle;
  clock: Clock;
  /** How long a refund may take before the reconciler settles it. */
  settleAfterMs: number;
}) {
  const { payments, provider, settle, clock } = deps;

  /** Records what `decide` makes of the payment, re-deciding if another writer got in first. */
  async function record(paymentId: string | null, decide: (p: Payment) => Change | null): Promise<ReportOutcome> {
    const p = paymentId === null ? null : await payments.load(paymentId);
    if (!p) return 'not_ours';
    let recorded = false;
    await settle.commitOn(p.id, (q) => {
      const c = decide(q);
      if (c) recorded = true;
      return c;
    });
    return recorded ? 'recorded' : 'unchanged';
  }

  /**
   * A refund or a dispute of a charge says the charge went through: a payment still recorded
   * pending (its answer lost) or failed records it first, so that what follows has its transition.
   */
  async function chargedFirst(paymentId: string | null, chargeId: string): Promise<void> {
    if (paymentId === null) return;
    await settle.commitOn(paymentId, (q) =>
      q.status === 'pending' || q.status === 'failed' ? succeed(q, chargeId, clock.now()) : null,
    );
  }

  function settleRefund(q: Payment, r: ProviderRefund): Change | null {
    const now = clock.now();
    const ours = q.refunds.find((x) => x.id === r.refundId || x.providerId === r.id);
    if (!ours) return r.status === 'succeeded' ? refundedElsewhere(q, r, now) : null;
    if (ours.status === 'succeeded' && r.status === 'failed') {
      return refundReversed(q, ours.id, r.failureReason ?? 'The provider reports the refund failed', now);
    }
    if (ours.status !== 'pending') return null;
    if (r.status === 'succeeded') return refundSucceeded(q, ours.id, r.id, now);
    if (r.status === 'failed')
      return refundFailed(q, ours.id, r.failureReason ?? 'The provider refused the refund', now);
    return null;
  }

  return {
    /**
     * A charge settled at the provider: a pending payment settles, a declined one that went
     * through after all succeeds, and a voided one that went through after all is refunded.
     */
    async paymentChanged(intentId: string): Promise<ReportOutcome> {
      const state = await provider.paymentState(intentId);
      let refundId: string | null = null;
      const outcome = await record(state.paymentId, (q) => {
        const now = clock.now();
        const chargeId = state.chargeId ?? intentId;
        refundId = null;
        if (state.status === 'succeeded' && (q.status === 'pending' || q.status === 'failed')) {
          return succeed(q, chargeId, now);
        }
        if (state.status === 'succeeded' && q.status === 'voided' && q.chargeId === null) {
          refundId = refundIdFor(q.id, q.version + 1);
          const dueAt = new Date(now.getTime() + deps.settleAfterMs);
          return chargedAfterVoid(q, now, { chargeId, refundId, dueAt });
        }
        if (state.status === 'failed' && q.status === 'pending') {
          return fail(q, state.failureReason ?? 'The payment failed', now, state.declineCode);
        }
        return null;
      });
      if (refundId !== null && state.paymentId !== null) {
        const voided = await payments.load(state.paymentId);
        // A refund the provider cannot take now is settled by the reconciler, at its due time.
        if (voided) {
          await settle.refund(voided, refundId).catch((err: unknown) => {
            if (!(err instanceof UpstreamUnavailableError)) throw err;
          });
        }
      }
      return outcome;
    },

    /** A charge's refunds changed: ours settle, those made elsewhere are recorded as refunds of their own. */
    async refundsChanged(chargeId: string): Promise<ReportOutcome> {
      const { paymentId, refunds } = await provider.refundsOf(chargeId);
      await chargedFirst(paymentId, chargeId);
      let outcome: ReportOutcome = paymentId === null ? 'not_ours' : 'unchanged';
      for (const r of refunds) {
        if ((await record(paymentId, (q) => settleRefund(q, r))) === 'recorded') outcome = 'recorded';
      }
      return outcome;
    },

    /** The customer disputed a charge with their bank. */
    async disputed(disputeId: string): Promise<ReportOutcome> {
      const d = await provider.dispute(disputeId);
      await chargedFirst(d.paymentId, d.chargeId);
      return record(d.paymentId, (q) =>
        q.dispute?.id === d.id ? null : markDisputed(q, { id: d.id, amount: d.amount, reason: d.reason }, clock.now()),
      );
    },
  };
}

export type ProviderReports = ReturnType<typeof createProviderReports>;
