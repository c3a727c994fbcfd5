import { Schema, type Connection } from 'mongoose';
import { insertOnce } from './connect';

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

export function createIdempotencyStore(conn: Connection, opts: { ttlMs: number; lockMs: number }) {
  const Keys = conn.model<KeyDoc>('IdempotencyKey', keySchema);

  async function begin(id: string, requestHash: string, now: Date, attemptsLeft = 2): Promise<BeginResult> {
    const lockedUntil = new Date(now.getTime() + opts.lockMs);
    const started = await insertOnce(Keys, {
      _id: id,
      requestHash,
      state: 'in_flight',
      lockedUntil,
      expiresAt: new Date(now.getTime() + opts.ttlMs),
      response: null,
    });
    if (started) return { kind: 'started' };
    const existing = await Keys.findById(id).lean<KeyDoc>();
    if (!existing || existing.expiresAt <= now) {
      if (existing) await Keys.deleteOne({ _id: id, expiresAt: existing.expiresAt });
      if (attemptsLeft > 0) return begin(id, requestHash, now, attemptsLeft - 1);
      return { kind: 'in_flight' };
    }
    if (existing.requestHash !== requestHash) return { kind: 'mismatch' };
    if (existing.state === 'done' && existing.response) {
      return { kind: 'replay', status: existing.response.status, body: existing.response.body };
    }
    if (existing.lockedUntil > now) return { kind: 'in_flight' };
    // The request that held it died; whoever moves the lock first takes over.
    const taken = await Keys.updateOne(
      { _id: id, state: 'in_flight', lockedUntil: existing.lockedUntil },
      { $set: { lockedUntil } },
    );
    return taken.modifiedCount === 1 ? { kind: 'started' } : { kind: 'in_flight' };
  }

  return {
    model: Keys,
    begin,
    async complete(id: string, status: number, body: unknown): Promise<void> {
      await Keys.updateOne({ _id: id }, { $set: { state: 'done', response: { status, body } } });
    },
    /** Lets the client retry with the same key (the outcome was not final). */
    async release(id: string): Promise<void> {
      await Keys.deleteOne({ _id: id, state: 'in_flight' });
    },
    async sweep(now: Date): Promise<number> {
      const r = await Keys.deleteMany({ expiresAt: { $lte: now } });
      return r.deletedCount;
    },
  };
}

export type IdempotencyStore = ReturnType<typeof createIdempotencyStore>;
