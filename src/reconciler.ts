import type { ReconcileResult } from './domain/reconcile';
import type { Clock } from './domain/ports';
import type { Logger } from './log';

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
  let running: Promise<void> | null = null;
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

  function run(sweep: boolean): Promise<void> {
    if (stopped) return Promise.resolve();
    running ??= tick(sweep)
      .catch((err: unknown) => deps.log.warn({ err }, 'reconciler pass failed'))
      .finally(() => {
        running = null;
      });
    return running;
  }

  const timer = setInterval(() => void run(false), deps.intervalMs);
  timer.unref();
  return {
    /** One whole pass now, sweepers included: after the timed one, if one is running. */
    runOnce: () => (running ? running.then(() => run(true)) : run(true)),
    oldestPending: () => oldestPending,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
