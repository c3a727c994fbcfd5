import { refundIdFor, requestRefund, type Payment, type Refund, type RefundReason } from './payment';
import type { Clock } from './ports';
import { refundRefused, type Settle } from './settle';

export interface RefundRequest {
  paymentId: string;
  /** Minor units; none refunds what remains. */
  amount?: number;
  reason: RefundReason;
  /** Set when the request carried an Idempotency-Key: its retry resumes the refund it asked for. */
  requestKey?: string;
}

/**
 * Refunds (part of) a payment: sets the amount aside in one recorded change (the
 * ceiling is checked there, so concurrent refunds never add up to more than was
 * charged), then asks the provider under a key derived from the refund.
 */
export function createRefund(deps: { settle: Settle; clock: Clock; settleAfterMs: number }) {
  const { settle, clock } = deps;
  return async function refund(req: RefundRequest): Promise<{ payment: Payment; refund: Refund }> {
    let refundId = '';
    let asked: Refund | undefined;
    const requested = await settle.commitOn(req.paymentId, (p) => {
      // A retry (its first answer was a 5xx, or it was taken over): the refund it asked for, never another.
      asked = req.requestKey === undefined ? undefined : p.refunds.find((r) => r.requestKey === req.requestKey);
      if (asked) {
        refundId = asked.id;
        return null;
      }
      const at = clock.now();
      refundId = refundIdFor(p.id, p.version + 1);
      const dueAt = new Date(at.getTime() + deps.settleAfterMs);
      return requestRefund(p, {
        refundId,
        reason: req.reason,
        ...(req.requestKey !== undefined && { requestKey: req.requestKey }),
        at,
        dueAt,
        ...(req.amount !== undefined && { amount: req.amount }),
      });
    });
    // Refused already (by the reconciler, after the first answer): refused again.
    if (asked?.status === 'failed') throw refundRefused(asked.failureReason);
    const payment = await settle.refund(requested, refundId);
    return { payment, refund: payment.refunds.find((r) => r.id === refundId) as Refund };
  };
}

export type RefundPayment = ReturnType<typeof createRefund>;
