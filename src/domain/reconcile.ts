import { DeclinedError, InvalidInputError } from './errors';
import type { Payment } from './payment';
import type { Clock, Payments, Unsettled } from './ports';
import type { Settle } from './settle';

// The unsettled payments one pass looks at: far more than are ever unsettled at once.
const SCAN_LIMIT = 1000;
// The longest wait between two attempts at one payment while its provider is away.
const MAX_RETRY_MS = 10 * 60 * 1000;

export interface ReconcileResult {
  settled: number;
  errors: unknown[];
  /** When the oldest payment still pending was started. */
  oldestPending: Date | null;
}

/**
 * Settles what was left pending past its due time: charges (a crash, a provider
 * outage) and refunds the provider could not take at once. Safe on every replica
 * at once: every writer asks the provider under the same keys, and the first
 * record of each outcome wins.
 */
export function createReconcile(deps: {
  payments: Payments;
  settle: Settle;
  clock: Clock;
  minRetryMs: number;
  /** The money of a payment whose order was cancelled while it was pending goes back (domain/orders.ts). */
  refundIfCancelled: (p: Payment) => Promise<unknown>;
}) {
  const { payments, settle, clock } = deps;

  return async function reconcile(): Promise<ReconcileResult> {
    const unsettled = await payments.unsettled(SCAN_LIMIT);
    const now = clock.now();
    let settled = 0;
    const errors: unknown[] = [];
    let oldestPending: Date | null = null;
    // Version 0 is the payment's start: what it left pending is its charge.
    const stillPending = (item: Unsettled) => {
      if (item.version === 0 && (oldestPending === null || item.since < oldestPending)) oldestPending = item.since;
    };
    for (const item of unsettled) {
      if (item.dueAt > now) {
        stillPending(item);
        continue;
      }
      try {
        let current = await payments.load(item.paymentId);
        if (current?.status === 'pending') current = await settle.settle(current);
        for (const r of current?.refunds.filter((x) => x.status === 'pending') ?? []) {
          current = await settle.refund(current as NonNullable<typeof current>, r.id);
        }
        await payments.reconciled(item, current);
        settled++;
        // Once off the list: a refund the provider refuses is reported, not asked again at every pass.
        if (current) await deps.refundIfCancelled(current).catch((err: unknown) => errors.push(err));
      } catch (err) {
        // Settled as declined: recording that took it off the list.
        if (err instanceof DeclinedError || err instanceof InvalidInputError) {
          settled++;
          continue;
        }
        errors.push(err);
        stillPending(item);
        // Waits grow with how long it has been pending, so an outage is retried less and less often.
        const age = now.getTime() - item.since.getTime();
        const wait = Math.min(Math.max(age / 2, deps.minRetryMs), MAX_RETRY_MS);
        await payments.postpone(item.paymentId, new Date(now.getTime() + wait));
      }
    }
    return { settled, errors, oldestPending };
  };
}
