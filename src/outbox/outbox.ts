import { messageOf, type DeadDelivery, type DeadDeliveryStore } from '../db/dead-deliveries';
import { entryId, type OutboxEntry, type OutboxMessage, type OutboxStore } from '../db/outbox';
import type { Clock } from '../domain/ports';
import type { Logger } from '../log';
import { onePassAtATime } from '../passes';

/** Where messages go (the bus, a receiver of callbacks), and how long to keep trying. */
export interface Destination {
  /** Where it is, as an operator reads it. */
  url: string;
  /** False while the destination is known to be away: nothing is tried, nothing counted. */
  ready(): boolean;
  /** Resolves once the destination has the message; `signal` cuts it short when the process stops. */
  send(message: OutboxMessage, signal: AbortSignal): Promise<void>;
  /** The wait before the next attempt once `attempts` were made (0: before the first); null when none is left. */
  delayMs(attempts: number): number | null;
  /** Longer than an attempt can take: an entry being sent is left alone this long by other passes and replicas. */
  leaseMs: number;
  /** Stored before its first attempt, so that dispatch never waits on the destination (receivers outside). */
  storeFirst: boolean;
  /** Told of each message given up on here. */
  onDead?(dead: DeadDelivery): void;
}

/** A failed attempt, with the status of the destination's answer when it gave one. */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The destination will never take the message (a receiver's 410 Gone): it is dead at once. */
export class UndeliverableError extends DeliveryError {
  override name = 'UndeliverableError';
}

/** The bus's schedule: at once, then backoff up to 30 s between attempts, for as long as it takes. */
export const backoff = (attempts: number) => (attempts === 0 ? 0 : Math.min(1000 * 2 ** attempts, 30_000));

const BATCH = 200;
// Delivered entries are removed together, at most this late: a crash before then only sends them again.
const REMOVE_AFTER_MS = 200;
// A claim outlives any pass that read the same entries before they were leased (milliseconds
// before its own claim; one later than this sends a message twice, which delivery at least once
// allows). Forgotten, it frees an entry whose claimer stopped before leasing it: a replica killed
// while it leased a batch leaves its messages this long, and at most half as long again.
const KEEP_CLAIMS_MS = 10_000;

type Failure = Pick<OutboxEntry, 'attempts' | 'lastError' | 'lastStatus'>;

/**
 * Delivers the messages of recorded changes, at least once, to each destination
 * on its own schedule. A message is sent at once when its destination is there;
 * one that cannot be sent now is stored, and a timer sends the stored ones in
 * batches, one destination apart from another, so that a slow or failing
 * destination holds back no other. A destination that gives up on a message
 * moves it to the dead deliveries, from which an admin can send it again.
 * The change that caused a message is recorded before the message is
 * dispatched, and its writer moves the payment on only after dispatch: a crash
 * in between leaves the payment behind its changes, and the reconciler
 * dispatches them again.
 */
export function createOutbox(deps: {
  store: OutboxStore;
  dead: DeadDeliveryStore;
  destinations: Record<string, Destination>;
  clock: Clock;
  log: Logger;
  intervalMs: number;
}) {
  const { store, dead, destinations, clock, log } = deps;
  let stopped = false;
  // Past it, a pass ends after the batch in hand; the rest waits for the next process.
  let deadline = Number.POSITIVE_INFINITY;
  // Aborted when a stopping process has no time left for sends still running.
  const stopping = new AbortController();

  const at = (ms: number) => new Date(clock.now().getTime() + ms);
  const reason = (err: unknown) => String((err as Error | undefined)?.message ?? err);

  let toRemove: OutboxEntry[] = [];
  let removing: Promise<void> | null = null;
  // Delivered, and stored until their removal is written: the backlog leaves them out.
  const delivered = new Set<string>();
  function remove(entries: OutboxEntry[]): void {
    toRemove.push(...entries);
    for (const e of entries) delivered.add(entryId(e));
    removing ??= new Promise<void>((resolve) => setTimeout(resolve, REMOVE_AFTER_MS)).then(async () => {
      const batch = toRemove;
      toRemove = [];
      removing = null;
      await store.remove(batch).catch((err: unknown) => {
        log.warn({ err }, 'delivered messages stay in the outbox; they may go again');
      });
      // Removed, or back in the backlog: a removal that failed leaves them to be sent again.
      for (const e of batch) delivered.delete(entryId(e));
    });
  }

  const inFlight = new Set<Promise<void>>();
  /** Work nobody awaits (a first attempt after dispatch): tracked so that flush and stop can. */
  function inBackground(work: Promise<unknown>): void {
    const tracked = work.then(
      () => undefined,
      (err: unknown) => log.warn({ err }, 'an attempt was not recorded; its lease brings the message back'),
    );
    inFlight.add(tracked);
    void tracked.finally(() => inFlight.delete(tracked));
  }
  async function settled(): Promise<void> {
    while (inFlight.size > 0) await Promise.all(inFlight);
  }

  /** What a failed attempt leaves behind, and when to try again (null: never). */
  function failed(e: OutboxEntry, d: Destination, err: unknown): { failure: Failure; retryAt: Date | null } {
    const attempts = e.attempts + 1;
    const status = err instanceof DeliveryError ? err.status : undefined;
    const delay = err instanceof UndeliverableError ? null : d.delayMs(attempts);
    const fields = { err, id: e.id, destination: e.destination, attempts };
    if (delay === null) log.warn(fields, 'delivery failed; given up, kept in dead_deliveries');
    else log.warn(fields, 'delivery failed; will retry');
    return {
      failure: { attempts, lastError: reason(err), ...(status !== undefined && { lastStatus: status }) },
      retryAt: delay === null ? null : at(delay),
    };
  }

  // Kept before it leaves the outbox: a crash in between leaves it in both, never in neither.
  async function bury(e: OutboxEntry, failure: Failure, d: Destination): Promise<void> {
    const buried: DeadDelivery = {
      id: entryId(e),
      messageId: e.id,
      destination: e.destination,
      url: d.url,
      subject: e.subject,
      key: e.key,
      payload: e.payload,
      attempts: failure.attempts,
      lastError: failure.lastError ?? '',
      lastStatus: failure.lastStatus ?? null,
      createdAt: e.createdAt,
      diedAt: clock.now(),
    };
    await dead.add(buried);
    await store.remove([e]);
    d.onDead?.(buried);
  }

  /** One attempt at a stored entry; true when it was delivered. */
  async function attempt(e: OutboxEntry, d: Destination): Promise<boolean> {
    try {
      await d.send(e, stopping.signal);
    } catch (err) {
      // Cut short by the process stopping, not refused: its lease brings the entry back.
      if (stopping.signal.aborted) return false;
      const { failure, retryAt } = failed(e, d, err);
      if (retryAt) await store.postpone(e, { ...failure, nextAttemptAt: retryAt });
      else await bury(e, failure, d);
      return false;
    }
    remove([e]);
    return true;
  }

  // Claims are forgotten at most once a while, and only once this process has made some.
  let claimsSince: number | null = null;
  async function forgetOldClaims(): Promise<void> {
    const now = clock.now().getTime();
    if (claimsSince === null || now - claimsSince < KEEP_CLAIMS_MS / 2) return;
    claimsSince = null;
    await store.forgetClaims(new Date(now - KEEP_CLAIMS_MS));
  }

  /** Sends one destination's stored entries that are due, a batch at a time. */
  function lane(name: string, d: Destination) {
    async function drain(): Promise<void> {
      for (let more = true; more;) {
        // While the destination is away there is nothing to try: what is stored waits.
        if (!d.ready()) return;
        const due = await store.due(name, clock.now(), BATCH);
        if (due.length === 0) break;
        // Other replicas' passes may have read the same entries: each goes to one pass, which
        // leases it, so that later passes leave it alone until its attempt is over.
        claimsSince ??= clock.now().getTime();
        const batch = await store.claim(due, clock.now());
        await Promise.all(batch.map((e) => store.postpone(e, { nextAttemptAt: at(d.leaseMs) })));
        const delivered = (await Promise.all(batch.map((e) => attempt(e, d)))).filter(Boolean);
        // More may be due; not after a failure (the destination is failing), nor when every entry was
        // claimed elsewhere (not leased yet, they would come back at once): the next pass looks again.
        more = due.length === BATCH && batch.length > 0 && delivered.length === batch.length && Date.now() < deadline;
      }
      await forgetOldClaims();
    }
    const passes = onePassAtATime(async () => {
      if (stopped) return;
      await drain().catch((err: unknown) => log.warn({ err, destination: name }, 'outbox paused; will retry'));
    });
    return { kick: passes.run, join: passes.join, idle: passes.idle };
  }
  const lanes = Object.entries(destinations).map(([name, d]) => lane(name, d));
  const kick = async () => void (await Promise.all(lanes.map((l) => l.kick())));

  const timer = setInterval(() => void Promise.all(lanes.map((l) => l.join())), deps.intervalMs);
  timer.unref();

  /** Sends one message now, or stores it to be retried; rejects only when it could do neither. */
  async function dispatchOne(m: OutboxMessage): Promise<void> {
    const now = clock.now();
    const d = destinations[m.destination];
    const fresh = { ...m, attempts: 0, createdAt: now, nextAttemptAt: now };
    // A destination this process does not know stays stored for the replicas that do.
    if (!d) return void (await store.add([fresh]));
    const ready = !stopped && d.ready();
    if (d.storeFirst) {
      const first = d.delayMs(0) ?? 0;
      const sendNow = ready && first === 0;
      const [added] = await store.add([{ ...fresh, nextAttemptAt: at(sendNow ? d.leaseMs : first) }]);
      if (added && sendNow) inBackground(attempt(added, d));
      return;
    }
    if (!ready) return void (await store.add([fresh]));
    try {
      await d.send(m, stopping.signal);
    } catch (err) {
      const { failure, retryAt } = failed(fresh, d, err);
      if (retryAt) await store.add([{ ...fresh, ...failure, nextAttemptAt: retryAt }]);
      else await bury(fresh, failure, d);
    }
  }

  return {
    /** Delivers the messages, or stores those it cannot deliver now; resolves when each is one or the other. */
    async dispatch(messages: OutboxMessage[]): Promise<void> {
      await Promise.all(messages.map(dispatchOne));
    },
    /**
     * Queues a dead delivery again for an attempt now, its schedule started over, and
     * takes it off the dead list; null when its destination is not one this process has.
     */
    async redeliver(delivery: DeadDelivery): Promise<OutboxEntry | null> {
      const d = destinations[delivery.destination];
      if (!d) return null;
      const entry = { ...messageOf(delivery), attempts: 0, createdAt: clock.now(), nextAttemptAt: at(d.leaseMs) };
      const [added] = await store.add([entry]);
      await dead.remove(delivery.id);
      if (added) inBackground(attempt(added, d));
      return entry;
    },
    /** Sends what is stored and due now; resolves when that pass and the attempts in hand are done and recorded. */
    async flush(): Promise<void> {
      await kick();
      await settled();
      while (removing) await removing;
    },
    /** Messages stored and not yet delivered. */
    backlog: () => store.count({ except: [...delivered] }),
    /** Stops the timer, sends what it can of what is stored within `graceMs`, and waits for the sends in hand. */
    async stop(graceMs = 0) {
      clearInterval(timer);
      deadline = Date.now() + graceMs;
      const cut = setTimeout(() => stopping.abort(), graceMs);
      if (graceMs > 0) await kick();
      stopped = true;
      await Promise.all(lanes.map((l) => l.idle()));
      await settled();
      clearTimeout(cut);
      await removing;
    },
  };
}

export type Outbox = ReturnType<typeof createOutbox>;
