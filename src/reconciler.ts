import type { Clock } from './domain/payment';
import type { Payments } from './domain/payments';
import type { Logger } from './log';

/**
 * The background job: every interval it settles payments left pending past
 * their lease, then runs the sweepers (expired idempotency keys, old leases:
 * FerretDB has no TTL indexes). Leases make it safe on every replica at once.
 */
export function startReconciler(deps: {
  payments: Payments;
  sweepers: ((now: Date) => Promise<unknown>)[];
  clock: Clock;
  log: Logger;
  intervalMs: number;
  onSettled?: () => void;
}) {
  let running: Promise<void> | null = null;
  let stopped = false;

  async function tick(): Promise<void> {
    const { settled, errors } = await deps.payments.reconcile();
    for (const err of errors) deps.log.warn({ err }, 'reconciler could not settle a payment yet');
    if (settled > 0) {
      deps.log.info({ settled }, 'reconciler settled pending payments');
      deps.onSettled?.();
    }
    for (const sweep of deps.sweepers) await sweep(deps.clock.now());
  }

  function runOnce(): Promise<void> {
    if (stopped) return Promise.resolve();
    running ??= tick()
      .catch((err: unknown) => deps.log.warn({ err }, 'reconciler tick failed'))
      .finally(() => {
        running = null;
      });
    return running;
  }

  const timer = setInterval(() => void runOnce(), deps.intervalMs);
  timer.unref();
  return {
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
