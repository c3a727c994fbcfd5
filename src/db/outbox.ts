import { Schema, type Connection } from 'mongoose';
import { insertOnce, updateById } from './writes';

/** A message to deliver to one destination (the bus now; HTTP receivers later). */
export interface OutboxMessage {
  /** The event's id: the same for every copy, so receivers and brokers can drop duplicates. */
  id: string;
  destination: string;
  subject: string;
  /** What orders the message among its kind (the order id): a partition key where the transport has one. */
  key: string;
  payload: unknown;
}

export interface OutboxEntry extends OutboxMessage {
  attempts: number;
  nextAttemptAt: Date;
  createdAt: Date;
  lastError?: string;
}

interface EntryDoc extends Omit<OutboxEntry, 'id'> {
  _id: string;
  messageId: string;
}

const schema = new Schema<EntryDoc>(
  {
    _id: { type: String, required: true },
    messageId: { type: String, required: true },
    destination: { type: String, required: true },
    subject: { type: String, required: true },
    key: { type: String, required: true },
    payload: { type: Schema.Types.Mixed, required: true },
    attempts: { type: Number, required: true },
    nextAttemptAt: { type: Date, required: true, index: true },
    createdAt: { type: Date, required: true },
    lastError: String,
  },
  { collection: 'outbox', versionKey: false },
);

export const entryId = (m: Pick<OutboxMessage, 'destination' | 'id'>) => `${m.destination}:${m.id}`;

function toEntry({ _id, messageId, ...rest }: EntryDoc): OutboxEntry {
  return { ...rest, id: messageId };
}

/**
 * The outbox's storage: one small document per message not yet delivered. It
 * stays small because delivered messages leave it, so scanning it for due work
 * (which FerretDB does without an index) costs little.
 */
export function createOutboxStore(conn: Connection) {
  const Model = conn.model<EntryDoc>('OutboxEntry', schema);
  const col = conn.getClient().db(conn.name).collection('outbox');
  const insert = insertOnce(col);
  const update = updateById(col);
  return {
    init: async () => void (await Model.init()),
    /** Adds entries and resolves with those it added: one already there (queued twice) stays as it is. */
    async add(entries: OutboxEntry[]): Promise<OutboxEntry[]> {
      const added = await Promise.all(
        entries.map(({ id, ...rest }) => insert({ ...rest, _id: entryId({ ...rest, id }), messageId: id })),
      );
      return entries.filter((_, i) => added[i]);
    },
    async due(now: Date, limit: number): Promise<OutboxEntry[]> {
      const docs = await col
        .find({ nextAttemptAt: { $lte: now } })
        .sort({ nextAttemptAt: 1 })
        .limit(limit)
        .toArray();
      return (docs as unknown as EntryDoc[]).map(toEntry);
    },
    async remove(entries: OutboxMessage[]): Promise<void> {
      if (entries.length > 0) await col.deleteMany({ _id: { $in: entries.map(entryId) } } as never);
    },
    async postpone(entry: OutboxMessage, fields: { attempts?: number; nextAttemptAt: Date; lastError?: string }) {
      await update(entryId(entry), { $set: fields });
    },
    count: () => col.countDocuments(),
  };
}

export type OutboxStore = ReturnType<typeof createOutboxStore>;
