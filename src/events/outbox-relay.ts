import type { PaymentStoreAdapter } from '../db/payment-store';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { Bus } from './bus';

// Twice a publish's ack timeout and its mark; a relay that died holding a claim loses it then.
const CLAIM_EXPIRES_MS = 15_000;
const BATCH = 100;

/**
 * Publishes the events that state changes wrote into payments' outboxes, then
 * marks them sent. Runs on a timer and whenever `kick()` says there is news.
 * Each event is claimed first, so replicas do not publish it twice; delivery
 * is still at least once (a crash between publish and mark repeats the event
 * once its claim expires, with the same eventId).
 */
export function startOutboxRelay(deps: {
  payments: PaymentStoreAdapter;
  bus: Bus;
  log: Logger;
  metrics: Metrics;
  intervalMs: number;
}) {
  const { payments, bus, log, metrics } = deps;
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  // Past it, a pass ends after the event in hand; the rest waits for the next process.
  let deadline = Number.POSITIVE_INFINITY;
  const late = () => Date.now() > deadline;

  async function drain(): Promise<void> {
    // While the bus is away there is nothing to try; the timer comes back.
    if (!bus.isConnected()) return;
    do {
      again = false;
      const batch = await payments.unpublished(BATCH);
      for (const { paymentId, event } of batch) {
        if (late()) return;
        if (!(await payments.claimEvent(event.id, new Date(), CLAIM_EXPIRES_MS))) continue;
        try {
          await bus.publish(event.subject, event.data);
        } catch (err) {
          // Let the next attempt, here or on another replica, have it at once.
          await payments.releaseEvent(event.id);
          throw err;
        }
        await payments.markPublished(paymentId, event.id);
        metrics.eventsPublished.inc({ subject: event.subject });
      }
      if (batch.length === BATCH) again = true;
    } while (again && !late());
  }

  function kick(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = drain()
      .catch((err: unknown) => log.warn({ err }, 'outbox relay paused; will retry'))
      .finally(() => {
        running = null;
      });
    return running;
  }

  const timer = setInterval(() => void kick(), deps.intervalMs);
  timer.unref();

  return {
    kick,
    /** Stops the timer, publishes what it can within `graceMs`, and waits for the pass in hand. */
    async stop(graceMs = 0) {
      clearInterval(timer);
      deadline = Date.now() + graceMs;
      if (graceMs > 0) await kick();
      stopped = true;
      await running;
    },
  };
}

export type OutboxRelay = ReturnType<typeof startOutboxRelay>;
