import type { ReconcileResult } from './domain/reconcile';
import type { Clock } from './domain/ports';
import type { Logger } from './log';
import { onePassAtATime } from './passes';

/** Work done now and then beside the reconciling, each on its own period. */
export interface Sweeper {
  sweep(now: Date): Promise<unknown>;
  everyMs: number;
}

/**
 * The background job: every interval it settles payments left pending past their
 * dueAt; less often it runs the sweepers (expired idempotency keys: FerretDB has
 * no TTL indexes; the check of the reconciler's list). Safe on every replica at once.
 */
export function startReconciler(deps: {
  reconcile: () => Promise<ReconcileResult>;
  sweepers: Sweeper[];
  clock: Clock;
  log: Logger;
  intervalMs: number;
}) {
  let stopped = false;
  // Each sweeper first runs one period after the start.
  const lastSweep = deps.sweepers.map(() => deps.clock.now().getTime());
  let oldestPending: Date | null = null;

  async function tick(sweep: boolean): Promise<void> {
    // Sweepers first: what the check of the list finds is settled in the same pass.
    const now = deps.clock.now();
    for (const [i, sweeper] of deps.sweepers.entries()) {
      if (!sweep && now.getTime() - (lastSweep[i] as number) < sweeper.everyMs) continue;
      lastSweep[i] = now.getTime();
      await sweeper.sweep(now);
    }
    const result = await deps.reconcile();
    oldestPending = result.oldestPending;
    for (const err of result.errors) deps.log.warn({ err }, 'reconciler could not settle a payment yet');
    if (result.settled > 0) deps.log.info({ settled: result.settled }, 'reconciler settled pending payments');
  }

  // Set by runOnce for the next pass to begin, which then runs every sweeper.
  let sweepAll = false;
  const passes = onePassAtATime(async () => {
    if (stopped) return;
    const sweep = sweepAll;
    sweepAll = false;
    await tick(sweep).catch((err: unknown) => deps.log.warn({ err }, 'reconciler pass failed'));
  });

  const timer = setInterval(() => void passes.join(), deps.intervalMs);
  timer.unref();
  return {
    /** One whole pass now, sweepers included: after the one running, if one is. */
    runOnce(): Promise<void> {
      sweepAll = true;
      return passes.run();
    },
    oldestPending: () => oldestPending,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await passes.idle();
    },
  };
}
