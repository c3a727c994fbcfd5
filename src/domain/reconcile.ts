import { DeclinedError, InvalidInputError } from './errors';
import type { Clock, Payments } from './ports';
import type { Settle } from './settle';

// The pending payments one pass looks at: far more than are ever pending at once.
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
 * Settles payments left pending past their dueAt (a crash, a provider outage).
 * Safe on every replica at once: every writer asks the provider under the
 * payment's own key, and the first record of the outcome wins.
 */
export function createReconcile(deps: { payments: Payments; settle: Settle; clock: Clock; minRetryMs: number }) {
  const { payments, settle, clock } = deps;

  return async function reconcile(): Promise<ReconcileResult> {
    const pending = await payments.pending(SCAN_LIMIT);
    const now = clock.now();
    let settled = 0;
    const errors: unknown[] = [];
    for (const p of pending) {
      if (p.dueAt && p.dueAt > now) continue;
      try {
        const current = await payments.load(p.id);
        if (current) await settle.settle(current);
        settled++;
      } catch (err) {
        if (err instanceof DeclinedError || err instanceof InvalidInputError) {
          settled++;
          continue;
        }
        errors.push(err);
        // Waits grow with the payment's age, so an outage is retried less and less often.
        const age = now.getTime() - p.createdAt.getTime();
        const wait = Math.min(Math.max(age / 2, deps.minRetryMs), MAX_RETRY_MS);
        await payments.postpone(p.id, new Date(now.getTime() + wait));
      }
    }
    const oldest = pending.reduce<Date | null>((o, p) => (o === null || p.createdAt < o ? p.createdAt : o), null);
    return { settled, errors, oldestPending: oldest };
  };
}
