import mongoose, { type Connection } from 'mongoose';

export type Collection = mongoose.mongo.Collection<mongoose.mongo.Document>;
type Filter = mongoose.mongo.Filter<mongoose.mongo.Document>;
type Update = mongoose.mongo.UpdateFilter<mongoose.mongo.Document>;
type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

// A command of 500 documents stays far below MongoDB's 16 MB message limit.
const MAX_INSERTS = 500;
// FerretDB v1 keeps each statement's read open until a whole update command ends, one SQLite
// connection each, from a pool of 100: an update of 100 statements waits for a connection
// that never comes, and every other command with it (seen: FerretDB hung). It also commits
// each statement on its own, so an update command holds the write lane for as many commits:
// small ones let the inserts that requests wait for go in between (32 clients on SQLite:
// a fifth to a half more payments/s than with 16).
const MAX_UPDATES = 4;

/** Runs a database's write commands, at most so many at a time. */
export interface WriteLane {
  run<T>(write: () => Promise<T>): Promise<T>;
  /**
   * Gives a write's outcome to its writers. On a lane with a limit, only once the next write is
   * under way: what the writers do next (on the way of a payment, the call to the provider, the
   * next record) would otherwise run first, while the lane waits (at 8 clients on SQLite, the mean
   * wait for the lane went from 8.6 to 5 ms).
   */
  answer(deliver: () => void): void;
  /** Totals since the start, for the metrics; all 0 on a lane without a limit. */
  readonly stats: Readonly<LaneStats>;
}

export interface LaneStats {
  writes: number;
  /** Time writes waited for a place. */
  waitSeconds: number;
  /** Time writes held a place, summed over the places: near `limit` per second, the lane is full. */
  busySeconds: number;
}

const unlimited: WriteLane = {
  run: (write) => write(),
  answer: (deliver) => deliver(),
  stats: { writes: 0, waitSeconds: 0, busySeconds: 0 },
};

/**
 * At most `limit` write commands in flight (0: no limit). On a store with one
 * writer at a time (FerretDB on SQLite), concurrent commands collide in its
 * lock, and the losers sleep (1 ms, then 2, 5, 10 ...); waiting here instead,
 * they go together in the next command.
 */
export function writeLane(limit: number): WriteLane {
  if (limit === 0) return unlimited;
  let running = 0;
  const waiting: (() => void)[] = [];
  const stats: LaneStats = { writes: 0, waitSeconds: 0, busySeconds: 0 };
  return {
    stats,
    // The next write goes on in this turn of the event loop: its batch, its command to the socket.
    answer: (deliver) => void setImmediate(deliver),
    async run(write) {
      const asked = performance.now();
      if (running < limit) running++;
      // A finishing write hands its place over.
      else await new Promise<void>((resolve) => waiting.push(resolve));
      const started = performance.now();
      stats.writes++;
      stats.waitSeconds += (started - asked) / 1000;
      try {
        return await write();
      } finally {
        stats.busySeconds += (performance.now() - started) / 1000;
        const next = waiting.shift();
        if (next) next();
        else running--;
      }
    },
  };
}

const lanes = new WeakMap<Connection, WriteLane>();

/** Every store of the connection writes through one lane (db/connect.ts sets its limit). */
export function limitWrites(conn: Connection, limit: number): void {
  lanes.set(conn, writeLane(limit));
}

export function laneOf(conn: Connection): WriteLane {
  return lanes.get(conn) ?? unlimited;
}

/**
 * Group commit: writes that arrive while the previous batch of a collection is
 * in flight, or waits for the lane, go together in the next command. One request
 * alone is sent at once; under load, one command carries many writes, and on
 * FerretDB one SQLite transaction commits them (measured: 8 inserts in one
 * command cost a seventh of 8 commands).
 */
function grouped<I, O>(
  send: (items: I[]) => Promise<Outcome<O>[]>,
  max: number,
  lane: WriteLane,
  gatherMs = 0,
): (item: I) => Promise<O> {
  const queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  let flushing = false;
  // The batch is taken once the lane lets it go: what arrived while it waited goes too.
  const sendBatch = async () => {
    const batch = queue.splice(0, max);
    let outcomes: Outcome<O>[];
    try {
      outcomes = await send(batch.map((w) => w.item));
    } catch (error) {
      outcomes = batch.map(() => ({ ok: false, error }));
    }
    lane.answer(() =>
      batch.forEach((w, i) => {
        const o = outcomes[i] as Outcome<O>;
        if (o.ok) w.resolve(o.value);
        else w.reject(o.error);
      }),
    );
  };
  // Writes made in the same turn of the event loop join the first command too; writes
  // nobody waits for gather longer, and take fewer turns of the lane.
  const soon = (f: () => void) => (gatherMs > 0 ? void setTimeout(f, gatherMs) : queueMicrotask(f));
  async function flush() {
    await lane.run(sendBatch);
    // What came while it was sent goes in the next command.
    if (queue.length > 0) soon(() => void flush());
    else flushing = false;
  }
  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (flushing) return;
      flushing = true;
      soon(() => void flush());
    });
}

/** Per item of a bulk command: its write error, if it had one. */
function errorsByIndex(err: unknown, count: number): Map<number, { code?: number }> | null {
  if (!(err instanceof mongoose.mongo.MongoBulkWriteError)) return null;
  const list = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
  const byIndex = new Map(list.map((e) => [e.index, e] as const));
  // Anything but per-item errors (a write concern error) fails the whole command.
  return byIndex.size > 0 && [...byIndex.keys()].every((i) => i < count) ? byIndex : null;
}

export function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}

/**
 * Inserts documents that decide something once: resolves true when this call
 * wrote the document, false when its _id was taken. A unique _id insert is the
 * one race-free decision both MongoDB and FerretDB v1 offer (FerretDB applies a
 * conditional update as a read, then a separate write).
 */
export function insertOnce(
  col: Collection,
  lane: WriteLane,
  opts: { gatherMs?: number } = {},
): (doc: mongoose.mongo.Document) => Promise<boolean> {
  return grouped(
    async (docs) => {
      try {
        // The driver's bulk machinery costs more than its plain insert: alone, a document goes plainly.
        if (docs.length === 1) await col.insertOne(docs[0] as mongoose.mongo.Document);
        else await col.insertMany(docs, { ordered: false });
        return docs.map(() => ({ ok: true, value: true }));
      } catch (err) {
        if (docs.length === 1 && isDuplicateKey(err)) return [{ ok: true, value: false }];
        const byIndex = errorsByIndex(err, docs.length);
        if (!byIndex) throw err;
        return docs.map((_, i) => {
          const e = byIndex.get(i);
          if (!e) return { ok: true, value: true };
          return isDuplicateKey(e) ? { ok: true, value: false } : { ok: false, error: err };
        });
      }
    },
    MAX_INSERTS,
    lane,
    opts.gatherMs,
  );
}

/** Applies updates addressed by _id alone (the only filter FerretDB serves from an index). */
export function updateById(col: Collection, lane: WriteLane): (id: unknown, update: Update) => Promise<void> {
  const send = grouped<{ id: unknown; update: Update }, void>(
    async (items) => {
      const ops = items.map(({ id, update }) => ({ updateOne: { filter: { _id: id } as Filter, update } }));
      try {
        if (items.length === 1) await col.updateOne(ops[0]!.updateOne.filter, ops[0]!.updateOne.update);
        else await col.bulkWrite(ops, { ordered: false });
        return items.map(() => ({ ok: true, value: undefined }));
      } catch (err) {
        const byIndex = errorsByIndex(err, items.length);
        if (!byIndex) throw err;
        return items.map((_, i) => (byIndex.has(i) ? { ok: false, error: err } : { ok: true, value: undefined }));
      }
    },
    MAX_UPDATES,
    lane,
  );
  return (id, update) => send({ id, update });
}

/**
 * Deletes documents by _id; deleting one that is not there is no error. Alone, a
 * document goes by `{_id}`; several go in one `$in` statement, which FerretDB v1
 * answers by reading the collection: for small collections only.
 *
 * Outside the write lane: FerretDB reads what a delete matches before it takes SQLite's
 * write lock, then deletes by `_id` in one short statement. In the lane, that read (10 to
 * 20 ms under load) held back the inserts that requests wait for.
 */
export function deleteFromSmallById(col: Collection): (id: unknown) => Promise<void> {
  return grouped<unknown, void>(
    async (ids) => {
      await col.deleteMany((ids.length === 1 ? { _id: ids[0] } : { _id: { $in: ids } }) as Filter);
      return ids.map(() => ({ ok: true, value: undefined }));
    },
    MAX_INSERTS,
    unlimited,
  );
}

export async function findById<T>(col: Collection, id: unknown): Promise<T | null> {
  return (await col.findOne({ _id: id } as Filter)) as T | null;
}
