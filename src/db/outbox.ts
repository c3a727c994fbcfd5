import { Schema, type Connection, type mongo } from 'mongoose';
import { CLAIMS_COLLECTION } from './collections';
import { deleteFromSmallById, insertOnce, laneOf, updateById } from './writes';

/** A message to deliver to one destination (the bus, or one receiver of callbacks). */
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
  /** The status of the destination's last answer, when it gave one. */
  lastStatus?: number;
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
    nextAttemptAt: { type: Date, required: true },
    createdAt: { type: Date, required: true },
    lastError: String,
    lastStatus: Number,
  },
  { collection: 'outbox', versionKey: false },
);
schema.index({ destination: 1, nextAttemptAt: 1 });

export const entryId = (m: Pick<OutboxMessage, 'destination' | 'id'>) => `${m.destination}:${m.id}`;

/** An entry as passes read it while it is due: every pass that read it then names it the same. */
const offerOf = (e: OutboxEntry) => `${entryId(e)}@${e.nextAttemptAt.getTime()}`;

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
  const lane = laneOf(conn);
  const insert = insertOnce(col, lane);
  const update = updateById(col, lane);
  const deleteEntry = deleteFromSmallById(col);
  const claims = conn.getClient().db(conn.name).collection(CLAIMS_COLLECTION);
  const insertClaim = insertOnce(claims, lane);
  return {
    init: async () => void (await Model.init()),
    /** Adds entries and resolves with those it added: one already there (queued twice) stays as it is. */
    async add(entries: OutboxEntry[]): Promise<OutboxEntry[]> {
      const added = await Promise.all(
        entries.map(({ id, ...rest }) => insert({ ...rest, _id: entryId({ ...rest, id }), messageId: id })),
      );
      return entries.filter((_, i) => added[i]);
    },
    /** One destination's entries due by `now`, so that no destination's backlog hides another's. */
    async due(destination: string, now: Date, limit: number): Promise<OutboxEntry[]> {
      const docs = await col
        .find({ destination, nextAttemptAt: { $lte: now } })
        .sort({ nextAttemptAt: 1 })
        .limit(limit)
        .toArray();
      return (docs as unknown as EntryDoc[]).map(toEntry);
    },
    /**
     * Of the passes (of any replica) that read the same due entries, one takes each: a claim is a
     * unique insert, the one decision FerretDB v1 makes atomically (a conditional update is a read,
     * then a write). Resolves with the entries this call took.
     */
    async claim(entries: OutboxEntry[], at: Date): Promise<OutboxEntry[]> {
      const won = await Promise.all(entries.map((e) => insertClaim({ _id: offerOf(e), at })));
      return entries.filter((_, i) => won[i]);
    },
    /**
     * Forgets the claims made before `before`: the entries they took were leased, then sent or put off.
     * Outside the write lane, as every delete (db/writes.ts).
     */
    async forgetClaims(before: Date): Promise<void> {
      await claims.deleteMany({ at: { $lt: before } });
    },
    async remove(entries: OutboxMessage[]): Promise<void> {
      await Promise.all(entries.map((e) => deleteEntry(entryId(e))));
    },
    async postpone(
      entry: OutboxMessage,
      fields: Partial<Pick<OutboxEntry, 'attempts' | 'lastError' | 'lastStatus'>> & { nextAttemptAt: Date },
    ) {
      // A failed attempt without an answer must not leave the status of an earlier one behind.
      const unset = fields.lastError !== undefined && fields.lastStatus === undefined;
      await update(entryId(entry), { $set: fields, ...(unset && { $unset: { lastStatus: '' } }) });
    },
    /** Entries stored, but for those named in `except`. */
    count({ except = [] }: { except?: unknown[] } = {}) {
      return col.countDocuments((except.length > 0 ? { _id: { $nin: except } } : {}) as mongo.Filter<mongo.Document>);
    },
  };
}

export type OutboxStore = ReturnType<typeof createOutboxStore>;
