import { Schema, type Connection } from 'mongoose';
import { findById, insertOnce, laneOf } from './writes';

/** A message the service gave up on, kept whole so that it can be read, fixed and replayed. */
export interface DeadLetter {
  /** The message's place on its bus (subject and sequence) and its publish time: parking it twice keeps one. */
  id: string;
  subject: string;
  /** The message as it arrived. */
  payload: string;
  reason: string;
  deliveries: number;
  publishedAt: Date;
  parkedAt: Date;
}

interface DeadLetterDoc extends Omit<DeadLetter, 'id'> {
  _id: string;
}

const schema = new Schema<DeadLetterDoc>(
  {
    _id: { type: String, required: true },
    subject: { type: String, required: true },
    payload: { type: String, required: true },
    reason: { type: String, required: true },
    deliveries: { type: Number, required: true },
    publishedAt: { type: Date, required: true },
    parkedAt: { type: Date, required: true },
  },
  { collection: 'dead_letters', versionKey: false },
);

const toDeadLetter = ({ _id, ...rest }: DeadLetterDoc): DeadLetter => ({ ...rest, id: _id });

export function createDeadLetterStore(conn: Connection) {
  const Model = conn.model<DeadLetterDoc>('DeadLetter', schema);
  const col = conn.getClient().db(conn.name).collection('dead_letters');
  const insert = insertOnce(col, laneOf(conn));
  return {
    init: async () => void (await Model.init()),
    async park({ id, ...rest }: DeadLetter): Promise<void> {
      await insert({ ...rest, _id: id });
    },
    async list(limit = 1000): Promise<DeadLetter[]> {
      const docs = (await col.find({}).sort({ parkedAt: 1 }).limit(limit).toArray()) as unknown as DeadLetterDoc[];
      return docs.map(toDeadLetter);
    },
    /** Newest first, as the admin API lists them; null when the cursor is not a parked message. */
    async page(page: { limit: number; startingAfter?: string }) {
      let where = {};
      if (page.startingAfter !== undefined) {
        const cursor = await findById<DeadLetterDoc>(col, page.startingAfter);
        if (!cursor) return null;
        where = {
          $or: [{ parkedAt: { $lt: cursor.parkedAt } }, { parkedAt: cursor.parkedAt, _id: { $lt: cursor._id } }],
        };
      }
      const docs = (await col
        .find(where)
        .sort({ parkedAt: -1, _id: -1 })
        .limit(page.limit + 1)
        .toArray()) as unknown as DeadLetterDoc[];
      return { data: docs.slice(0, page.limit).map(toDeadLetter), hasMore: docs.length > page.limit };
    },
    async get(id: string): Promise<DeadLetter | null> {
      const d = await findById<DeadLetterDoc>(col, id);
      return d ? toDeadLetter(d) : null;
    },
    async remove(id: string): Promise<void> {
      await col.deleteOne({ _id: id } as never);
    },
  };
}

export type DeadLetterStore = ReturnType<typeof createDeadLetterStore>;
