import type { OutboxEntry, OutboxMessage, OutboxStore } from '../db/outbox';
import type { Clock } from '../domain/ports';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';

/** Where messages go: the bus now; HTTP receivers later. */
export interface Sender {
  /** False while the destination is known to be away: nothing is tried, nothing counted. */
  ready(): boolean;
  /** Resolves once the destination has the message. */
  send(message: OutboxMessage): Promise<void>;
}

const BATCH = 200;
// Delivered entries are removed together, at most this late: a crash before then only sends them again.
const REMOVE_AFTER_MS = 200;
// A new entry belongs to the process that wrote it for this long; after it, any replica's scan may send it.
const OWN_MS = 5000;
const retryDelay = (attempts: number) => Math.min(1000 * 2 ** attempts, 30_000);

/**
 * Delivers what state changes recorded, at least once, in batches. The process
 * that wrote a message sends it at once from memory; a timer scans the stored
 * entries for the rest (another replica's, a crashed process's, failed sends),
 * retrying each with backoff. A message leaves the outbox only once its
 * destination has it.
 */
export function createOutbox(deps: {
  store: OutboxStore;
  senders: Record<string, Sender>;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  intervalMs: number;
}) {
  const { store, senders, clock, log, metrics } = deps;
  let fresh: OutboxEntry[] = [];
  let running: Promise<void> | null = null;
  let again = false;
  let scanDue = true;
  let stopped = false;
  // Past it, a pass ends after the batch in hand; the rest waits for the next process.
  let deadline = Number.POSITIVE_INFINITY;

  async function deliver(batch: OutboxEntry[]): Promise<void> {
    const ready = batch.filter((e) => senders[e.destination]?.ready());
    const results = await Promise.allSettled(ready.map((e) => (senders[e.destination] as Sender).send(e)));
    const delivered = ready.filter((_, i) => results[i]?.status === 'fulfilled');
    for (const e of delivered) metrics.eventsPublished.inc({ subject: e.subject });
    remove(delivered);
    await Promise.all(
      ready.map(async (e, i) => {
        const r = results[i];
        if (r?.status !== 'rejected') return;
        const attempts = e.attempts + 1;
        log.warn(
          { err: r.reason, id: e.id, destination: e.destination, attempts },
          'outbox delivery failed; will retry',
        );
        const nextAttemptAt = new Date(clock.now().getTime() + retryDelay(attempts));
        await store.postpone(e, {
          attempts,
          nextAttemptAt,
          lastError: String((r.reason as Error)?.message ?? r.reason),
        });
      }),
    );
  }

  let toRemove: OutboxEntry[] = [];
  let removing: Promise<void> | null = null;
  function remove(entries: OutboxEntry[]): void {
    toRemove.push(...entries);
    removing ??= new Promise<void>((resolve) => setTimeout(resolve, REMOVE_AFTER_MS)).then(flushRemovals);
  }
  async function flushRemovals(): Promise<void> {
    const batch = toRemove;
    toRemove = [];
    removing = null;
    await store
      .remove(batch)
      .catch((err: unknown) => log.warn({ err }, 'delivered messages stay in the outbox; they may go again'));
  }

  async function drain(): Promise<void> {
    // While every destination is away there is nothing to try: what is stored waits for the timer.
    if (!Object.values(senders).some((s) => s.ready())) {
      fresh = [];
      return;
    }
    do {
      again = false;
      let batch = fresh.splice(0, BATCH);
      if (batch.length === 0 && scanDue) {
        scanDue = false;
        const now = clock.now();
        batch = await store.due(now, BATCH);
        // Pushed back first, so that other replicas' scans leave them to this one.
        const until = new Date(now.getTime() + OWN_MS);
        await Promise.all(batch.map((e) => store.postpone(e, { nextAttemptAt: until })));
        if (batch.length === BATCH) scanDue = true;
      }
      if (batch.length > 0) await deliver(batch);
      if (fresh.length > 0) again = true;
    } while (again && Date.now() < deadline);
  }

  function kick(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = drain()
      .catch((err: unknown) => log.warn({ err }, 'outbox paused; will retry'))
      .finally(() => {
        running = null;
      });
    return running;
  }

  const timer = setInterval(() => {
    scanDue = true;
    void kick();
  }, deps.intervalMs);
  timer.unref();

  return {
    /**
     * Stores the messages (one already stored stays as it is) and resolves with a
     * function that sends those it stored, without waiting for the timer. The writer
     * calls it once the state that caused them is complete, so that a message is
     * never sent, and gone, before a reader of that state would stop queueing it again.
     */
    async enqueue(messages: OutboxMessage[]): Promise<() => void> {
      const now = clock.now();
      const entries = messages.map((m) => ({
        ...m,
        attempts: 0,
        createdAt: now,
        nextAttemptAt: new Date(now.getTime() + OWN_MS),
      }));
      const added = await store.add(entries);
      return () => {
        fresh.push(...added);
        void kick();
      };
    },
    /** Delivers what is due now, stored entries included, and resolves when that pass is done. */
    async flush(): Promise<void> {
      scanDue = true;
      await kick();
    },
    /** Messages stored and not yet delivered. */
    backlog: async () => (await store.count()) - toRemove.length,
    /** Stops the timer, delivers what it can within `graceMs`, and waits for the pass in hand. */
    async stop(graceMs = 0) {
      clearInterval(timer);
      deadline = Date.now() + graceMs;
      if (graceMs > 0) await kick();
      stopped = true;
      await running;
      await removing;
    },
  };
}

export type Outbox = ReturnType<typeof createOutbox>;
