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
const retryDelay = (attempts: number) => Math.min(1000 * 2 ** attempts, 30_000);

/**
 * Delivers the messages of recorded changes, at least once. A message is sent at
 * once when its destination is there; one that cannot be sent now is stored, and
 * a timer sends the stored ones in batches, each retried with backoff until its
 * destination has it. The change that caused a message is recorded before the
 * message is dispatched, and its writer moves the payment on only after dispatch:
 * a crash in between leaves the payment behind its changes, and the reconciler
 * dispatches them again.
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
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  // Past it, a pass ends after the batch in hand; the rest waits for the next process.
  let deadline = Number.POSITIVE_INFINITY;

  const sender = (m: OutboxMessage): Sender | undefined => {
    const s = senders[m.destination];
    return s?.ready() ? s : undefined;
  };
  const later = (attempts: number) => new Date(clock.now().getTime() + retryDelay(attempts));
  const reason = (err: unknown) => String((err as Error | undefined)?.message ?? err);

  let toRemove: OutboxEntry[] = [];
  let removing: Promise<void> | null = null;
  function remove(entries: OutboxEntry[]): void {
    toRemove.push(...entries);
    removing ??= new Promise<void>((resolve) => setTimeout(resolve, REMOVE_AFTER_MS)).then(async () => {
      const batch = toRemove;
      toRemove = [];
      removing = null;
      await store.remove(batch).catch((err: unknown) => {
        log.warn({ err }, 'delivered messages stay in the outbox; they may go again');
      });
    });
  }

  /** Sends stored entries that are due, a batch at a time; failures wait longer each time. */
  async function drain(): Promise<void> {
    // While every destination is away there is nothing to try: what is stored waits.
    if (!Object.values(senders).some((s) => s.ready())) return;
    do {
      again = false;
      const batch = (await store.due(clock.now(), BATCH)).filter((e) => sender(e));
      // Pushed back first, so that other replicas' passes leave these to this one.
      await Promise.all(batch.map((e) => store.postpone(e, { nextAttemptAt: later(5) })));
      const results = await Promise.allSettled(batch.map((e) => (sender(e) as Sender).send(e)));
      const delivered = batch.filter((_, i) => results[i]?.status === 'fulfilled');
      for (const e of delivered) metrics.eventsPublished.inc({ subject: e.subject });
      remove(delivered);
      await Promise.all(
        batch.map(async (e, i) => {
          const r = results[i];
          if (r?.status !== 'rejected') return;
          const attempts = e.attempts + 1;
          log.warn({ err: r.reason, id: e.id, destination: e.destination, attempts }, 'delivery failed; will retry');
          await store.postpone(e, { attempts, nextAttemptAt: later(attempts), lastError: reason(r.reason) });
        }),
      );
      if (delivered.length === BATCH) again = true;
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

  const timer = setInterval(() => void kick(), deps.intervalMs);
  timer.unref();

  /** Sends one message now, or stores it to be retried; rejects only when it could do neither. */
  async function dispatchOne(m: OutboxMessage): Promise<void> {
    const now = clock.now();
    const s = stopped ? undefined : sender(m);
    if (s) {
      try {
        await s.send(m);
        metrics.eventsPublished.inc({ subject: m.subject });
        return;
      } catch (err) {
        log.warn({ err, id: m.id, destination: m.destination }, 'delivery failed; stored to retry');
        await store.add([{ ...m, attempts: 1, createdAt: now, nextAttemptAt: later(1), lastError: reason(err) }]);
        return;
      }
    }
    await store.add([{ ...m, attempts: 0, createdAt: now, nextAttemptAt: now }]);
  }

  return {
    /** Delivers the messages, or stores those it cannot deliver now; resolves when each is one or the other. */
    async dispatch(messages: OutboxMessage[]): Promise<void> {
      await Promise.all(messages.map(dispatchOne));
    },
    /** Sends what is stored and due now, and resolves when that pass is done. */
    async flush(): Promise<void> {
      await kick();
    },
    /** Messages stored and not yet delivered. */
    backlog: async () => (await store.count()) - toRemove.length,
    /** Stops the timer, sends what it can of what is stored within `graceMs`, and waits for the pass in hand. */
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
