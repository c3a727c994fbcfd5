import { Schema, type Connection } from 'mongoose';
import type { OutboxMessage } from './outbox';
import { findById, insertOnce, laneOf } from './writes';

/** A message the outbox gave up on, kept whole, out of the outbox, until an admin sends it again. */
export interface DeadDelivery {
  /** The outbox entry's id: one per message and destination. */
  id: string;
  /** The message's own id (the event's), as the destination saw it. */
  messageId: string;
  destination: string;
  /** Where the destination is (a receiver's URL). */
  url: string;
  subject: string;
  key: string;
  payload: unknown;
  attempts: number;
  lastError: string;
  /** The status of the destination's last answer, when it gave one. */
  lastStatus: number | null;
  createdAt: Date;
  diedAt: Date;
}

interface DeadDeliveryDoc extends Omit<DeadDelivery, 'id'> {
  _id: string;
}

const schema = new Schema<DeadDeliveryDoc>(
  {
    _id: { type: String, required: true },
    messageId: { type: String, required: true },
    destination: { type: String, required: true },
    url: { type: String, required: true },
    subject: { type: String, required: true },
    key: { type: String, required: true },
    payload: { type: Schema.Types.Mixed, required: true },
    attempts: { type: Number, required: true },
    lastError: { type: String, required: true },
    lastStatus: { type: Number, default: null },
    createdAt: { type: Date, required: true },
    diedAt: { type: Date, required: true },
  },
  { collection: 'dead_deliveries', versionKey: false },
);
schema.index({ diedAt: -1, _id: -1 });

const toDelivery = ({ _id, ...rest }: DeadDeliveryDoc): DeadDelivery => ({ ...rest, id: _id });

/** The message a dead delivery carried, to be queued again. */
export const messageOf = (d: DeadDelivery): OutboxMessage => ({
  id: d.messageId,
  destination: d.destination,
  subject: d.subject,
  key: d.key,
  payload: d.payload,
});

/**
 * Dead deliveries, apart from the outbox so that the outbox stays small (FerretDB
 * reads a whole collection for any query but one by _id). Read by admins only.
 */
export function createDeadDeliveryStore(conn: Connection) {
  const Model = conn.model<DeadDeliveryDoc>('DeadDelivery', schema);
  const col = conn.getClient().db(conn.name).collection('dead_deliveries');
  const insert = insertOnce(col, laneOf(conn));
  return {
    init: async () => void (await Model.init()),
    /** Keeps a delivery given up on; one already kept under its id stays as it is. */
    async add({ id, ...rest }: DeadDelivery): Promise<void> {
      await insert({ ...rest, _id: id });
    },
    async get(id: string): Promise<DeadDelivery | null> {
      const d = await findById<DeadDeliveryDoc>(col, id);
      return d ? toDelivery(d) : null;
    },
    async remove(id: string): Promise<void> {
      await col.deleteOne({ _id: id } as never);
    },
    /** Newest first; null when `startingAfter` is not a dead delivery. */
    async page(page: { limit: number; startingAfter?: string }) {
      let where = {};
      if (page.startingAfter !== undefined) {
        const cursor = await findById<DeadDeliveryDoc>(col, page.startingAfter);
        if (!cursor) return null;
        where = { $or: [{ diedAt: { $lt: cursor.diedAt } }, { diedAt: cursor.diedAt, _id: { $lt: cursor._id } }] };
      }
      const docs = (await col
        .find(where)
        .sort({ diedAt: -1, _id: -1 })
        .limit(page.limit + 1)
        .toArray()) as unknown as DeadDeliveryDoc[];
      return { data: docs.slice(0, page.limit).map(toDelivery), hasMore: docs.length > page.limit };
    },
  };
}

export type DeadDeliveryStore = ReturnType<typeof createDeadDeliveryStore>;
