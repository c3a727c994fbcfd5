import mongoose, { Types } from 'mongoose';
import type { Unsettled } from '../domain/ports';
import type { Logger } from '../log';
import { DUE_COLLECTION } from './collections';
import { deleteById, insertOnce, type Collection } from './writes';

// Built once the list is complete: without it, the list is built from the payments at start.
const COMPLETE_INDEX = 'dueAt_1';

/**
 * What the reconciler must look at: one entry for each change that left something
 * of a payment pending (the start, a refund, a void), keyed `<paymentId>:<version>`.
 * An entry is written before its change, so a writer that stops after the change
 * leaves it listed, and goes once a later version has nothing pending. The list
 * holds what is in flight, so reading it costs the same with any number of
 * payments stored (FerretDB v1 answers any query but `{_id}` by reading the
 * whole collection).
 */
interface DueDoc {
  _id: string;
  paymentId: Types.ObjectId;
  version: number;
  dueAt: Date;
  since: Date;
}

const keyOf = (paymentId: string, version: number) => `${paymentId}:${version}`;

export function createDueList(col: Collection) {
  const insert = insertOnce(col);
  const remove = deleteById(col);

  return {
    async add(paymentId: string, version: number, dueAt: Date, since: Date): Promise<void> {
      const doc: DueDoc = {
        _id: keyOf(paymentId, version),
        paymentId: new Types.ObjectId(paymentId),
        version,
        dueAt,
        since,
      };
      // Taken: the same version was listed already (a writer that lost the race for it).
      await insert(doc);
    },

    /** Nothing of the payment is pending at `version`: every entry of an earlier version goes. */
    async clear(paymentId: string, version: number): Promise<void> {
      await Promise.all(Array.from({ length: version }, (_, v) => remove(keyOf(paymentId, v))));
    },

    async drop(item: Unsettled): Promise<void> {
      await remove(keyOf(item.paymentId, item.version));
    },

    async list(limit: number): Promise<Unsettled[]> {
      const docs = (await col.find({}).sort({ dueAt: 1 }).limit(limit).toArray()) as unknown as DueDoc[];
      return docs.map((d) => ({
        paymentId: d.paymentId.toHexString(),
        version: d.version,
        dueAt: d.dueAt,
        since: d.since,
      }));
    },

    async postpone(paymentId: string, dueAt: Date): Promise<void> {
      await col.updateMany({ paymentId: new Types.ObjectId(paymentId) }, { $set: { dueAt } });
    },
  };
}

export type DueList = ReturnType<typeof createDueList>;

/**
 * Lists what is pending in data written without the list: by the version before it,
 * or restored from a backup (the list is not in backups: a restore drops it). Runs
 * at start, before the service takes work; entries of versions already settled are
 * dropped by the reconciler's first look.
 */
export async function buildDueList(db: mongoose.mongo.Db, log: Logger): Promise<void> {
  const col = db.collection(DUE_COLLECTION);
  const indexes = await col.indexes().catch(() => []);
  if (indexes.some((i) => i.name === COMPLETE_INDEX)) return;
  const due = createDueList(col);
  let listed = 0;
  const pendingPayments = db
    .collection('payments')
    .find({ dueAt: { $ne: null } }, { projection: { version: 1, dueAt: 1, createdAt: 1 } });
  for await (const p of pendingPayments) {
    await due.add(String(p._id), p.version as number, p.dueAt as Date, p.createdAt as Date);
    listed++;
  }
  // A change its writer recorded without updating the payment.
  const pendingChanges = db
    .collection('payment_changes')
    .find({ dueAt: { $ne: null } }, { projection: { paymentId: 1, version: 1, dueAt: 1, at: 1 } });
  for await (const c of pendingChanges) {
    await due.add(String(c.paymentId), c.version as number, c.dueAt as Date, c.at as Date);
    listed++;
  }
  // The MongoDB index the reconciler reads in order; on FerretDB, the sign that the list is whole.
  await col.createIndex({ dueAt: 1 }, { name: COMPLETE_INDEX });
  if (listed > 0) log.warn({ listed }, 'listed the pending payments of data written without the due list');
}
