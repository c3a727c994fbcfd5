import type { ReconcileResult } from './domain/reconcile';
import type { Clock } from './domain/ports';
import type { Logger } from './log';

/**
 * The background job: every interval it settles payments left pending past their
 * dueAt; less often it runs the sweepers (expired idempotency keys: FerretDB has
 * no TTL indexes). Safe on every replica at once.
 */
export function startReconciler(deps: {
  reconcile: () => Promise<ReconcileResult>;
  sweepers: ((now: Date) => Promise<unknown>)[];
  clock: Clock;
  log: Logger;
  intervalMs: number;
  sweepEveryMs: number;
}) {
  let running: Promise<void> | null = null;
  let stopped = false;
  let lastSweep = 0;
  let oldestPending: Date | null = null;

  async function tick(sweep: boolean): Promise<void> {
    const result = await deps.reconcile();
    oldestPending = result.oldestPending;
    for (const err of result.errors) deps.log.warn({ err }, 'reconciler could not settle a payment yet');
    if (result.settled > 0) deps.log.info({ settled: result.settled }, 'reconciler settled pending payments');
    const now = deps.clock.now();
    if (sweep || now.getTime() - lastSweep >= deps.sweepEveryMs) {
      lastSweep = now.getTime();
      for (const sweeper of deps.sweepers) await sweeper(now);
    }
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
    /** One whole pass now, sweepers included. */
    runOnce: () => run(true),
    oldestPending: () => oldestPending,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
