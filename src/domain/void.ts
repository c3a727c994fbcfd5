import { NotFoundError, UpstreamUnavailableError } from './errors';
import { apply, assertVoidable, markVoided, refundIdFor, type Payment } from './payment';
import type { Clock, Payments } from './ports';
import type { Settle } from './settle';

/**
 * Voids a payment that never succeeded. The record stays: it is the legal record.
 * A pending one's fate is settled with the provider first, under its own key; if
 * the provider did charge, the payment is voided with a refund of all of it, so
 * that no charge remains.
 */
export function createVoid(deps: { payments: Payments; settle: Settle; clock: Clock; settleAfterMs: number }) {
  const { payments, settle, clock } = deps;
  return async function voidPayment(id: string): Promise<Payment> {
    for (;;) {
      const p = await payments.load(id);
      if (!p) throw new NotFoundError('Payment not found');
      if (p.status === 'voided') return p;
      assertVoidable(p);
      const answer = await settle.ask(p);
      const at = clock.now();
      const found =
        'chargeId' in answer
          ? {
              chargeId: answer.chargeId,
              refundId: refundIdFor(p.id, p.version + 1),
              dueAt: new Date(at.getTime() + deps.settleAfterMs),
            }
          : null;
      const change = markVoided(p, at, found);
      const after = apply(p, change);
      // Settled meanwhile (the request, the reconciler): look at it again.
      if (!(await payments.record(change, after))) continue;
      if (!found) return after;
      // The void stands; a refund the provider cannot take now is settled by the reconciler.
      return settle.refund(after, found.refundId).catch((err: unknown) => {
        if (err instanceof UpstreamUnavailableError) return after;
        throw err;
      });
    }
  };
}

export type VoidPayment = ReturnType<typeof createVoid>;
