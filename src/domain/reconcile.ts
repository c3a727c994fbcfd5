import { DeclinedError, InvalidInputError } from './errors';
import type { Clock, Payments } from './ports';
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
export function createReconcile(deps: { payments: Payments; settle: Settle; clock: Clock; minRetryMs: number }) {
  const { payments, settle, clock } = deps;

  return async function reconcile(): Promise<ReconcileResult> {
    const unsettled = await payments.unsettled(SCAN_LIMIT);
    const now = clock.now();
    let settled = 0;
    const errors: unknown[] = [];
    for (const p of unsettled) {
      if (p.dueAt && p.dueAt > now) continue;
      try {
        let current = await payments.load(p.id);
        if (current?.status === 'pending') current = await settle.settle(current);
        for (const r of current?.refunds.filter((x) => x.status === 'pending') ?? []) {
          current = await settle.refund(current as NonNullable<typeof current>, r.id);
        }
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
    const oldest = unsettled
      .filter((p) => p.status === 'pending')
      .reduce<Date | null>((o, p) => (o === null || p.createdAt < o ? p.createdAt : o), null);
    return { settled, errors, oldestPending: oldest };
  };
}
