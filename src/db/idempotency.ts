import { Schema, type Connection } from 'mongoose';
import { findById, insertOnce, laneOf, updateById } from './writes';

interface KeyDoc {
  _id: string;
  requestHash: string;
  state: 'in_flight' | 'done';
  lockedUntil: Date;
  expiresAt: Date;
  response: { status: number; body: unknown } | null;
}

const keySchema = new Schema<KeyDoc>(
  {
    _id: { type: String, required: true },
    requestHash: { type: String, required: true },
    state: { type: String, required: true },
    lockedUntil: { type: Date, required: true },
    // Swept by the service itself: FerretDB has no TTL indexes.
    expiresAt: { type: Date, required: true, index: true },
    response: { type: Schema.Types.Mixed, default: null },
  },
  { collection: 'idempotency_keys', versionKey: false },
);

export type BeginResult =
  | { kind: 'started' }
  | { kind: 'replay'; status: number; body: unknown }
  | { kind: 'mismatch' }
  | { kind: 'in_flight' };

/**
 * Idempotency keys: the first request with a key runs, its answer is kept and
 * replayed. A request that died leaves its key locked until `lockMs` has passed;
 * then a retry runs the request again, which is safe because paying is itself
 * idempotent (the retry resumes the payment its key started).
 */
export function createIdempotencyStore(conn: Connection, opts: { ttlMs: number; lockMs: number }) {
  const Model = conn.model<KeyDoc>('IdempotencyKey', keySchema);
  const keys = conn.getClient().db(conn.name).collection('idempotency_keys');
  const lane = laneOf(conn);
  const insert = insertOnce(keys, lane);
  const update = updateById(keys, lane);

  async function begin(id: string, requestHash: string, now: Date): Promise<BeginResult> {
    const lockedUntil = new Date(now.getTime() + opts.lockMs);
    const fresh = {
      requestHash,
      state: 'in_flight',
      lockedUntil,
      expiresAt: new Date(now.getTime() + opts.ttlMs),
      response: null,
    };
    if (await insert({ _id: id, ...fresh })) return { kind: 'started' };
    const existing = await findById<KeyDoc>(keys, id);
    // Swept between the two calls: one more try, as a new key.
    if (!existing) return (await insert({ _id: id, ...fresh })) ? { kind: 'started' } : { kind: 'in_flight' };
    // Past its lifetime, the key is free again.
    if (existing.expiresAt <= now) {
      await update(id, { $set: fresh });
      return { kind: 'started' };
    }
    if (existing.requestHash !== requestHash) return { kind: 'mismatch' };
    if (existing.state === 'done' && existing.response) {
      return { kind: 'replay', status: existing.response.status, body: existing.response.body };
    }
    if (existing.lockedUntil > now) return { kind: 'in_flight' };
    await update(id, { $set: { lockedUntil } });
    return { kind: 'started' };
  }

  return {
    init: async () => void (await Model.init()),
    begin,
    async complete(id: string, status: number, body: unknown): Promise<void> {
      await update(id, { $set: { state: 'done', response: { status, body } } });
    },
    /** Lets the client retry with the same key at once (the outcome was not final). */
    async release(id: string, now: Date): Promise<void> {
      await update(id, { $set: { lockedUntil: now } });
    },
    async sweep(now: Date): Promise<number> {
      return (await keys.deleteMany({ expiresAt: { $lte: now } })).deletedCount;
    },
    count: () => keys.countDocuments(),
  };
}

export type IdempotencyStore = ReturnType<typeof createIdempotencyStore>;
