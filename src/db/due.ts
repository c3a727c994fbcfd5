import mongoose, { Types } from 'mongoose';
import type { Unsettled } from '../domain/ports';
import type { Logger } from '../log';
import { DUE_COLLECTION } from './collections';
import { deleteFromSmallById, insertOnce, type WriteLane } from './writes';

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

// Entries that are done are deleted together, once a second: one statement for many. Deleted
// with each payment, on SQLite (one writer at a time), they cost a commit per payment.
const CLEAR_EVERY_MS = 1000;

export function createDueList(db: mongoose.mongo.Db, lane: WriteLane, log: Logger) {
  const col = db.collection(DUE_COLLECTION);
  const entries = col as unknown as mongoose.mongo.Collection<DueDoc>;
  const insert = insertOnce(col, lane);
  const deleteEntry = deleteFromSmallById(col, lane);
  let done: string[] = [];
  let timer: NodeJS.Timeout | null = null;

  // What is not deleted stays listed until the reconciler looks at it again: a failure is logged, not thrown.
  async function deleteDone(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = null;
    const ids = done;
    done = [];
    try {
      await Promise.all(ids.map(deleteEntry));
    } catch (err) {
      log.warn({ err }, 'could not delete settled entries of the due list');
    }
  }

  function remove(ids: string[]): void {
    done.push(...ids);
    timer ??= setTimeout(() => void deleteDone(), CLEAR_EVERY_MS).unref();
  }

  /**
   * Lists every payment whose stored copy says it is pending, and, with `changes`,
   * every change that left something pending (one whose writer stopped before
   * updating the copy). Reads whole collections: at start, and now and then.
   */
  async function listPending(opts: { changes: boolean }): Promise<number> {
    let listed = 0;
    const payments = db
      .collection('payments')
      .find({ dueAt: { $ne: null } }, { projection: { version: 1, dueAt: 1, createdAt: 1 } });
    for await (const p of payments) {
      if (await add(String(p._id), p.version as number, p.dueAt as Date, p.createdAt as Date)) listed++;
    }
    if (!opts.changes) return listed;
    const changes = db
      .collection('payment_changes')
      .find({ dueAt: { $ne: null } }, { projection: { paymentId: 1, version: 1, dueAt: 1, at: 1 } });
    for await (const c of changes) {
      if (await add(String(c.paymentId), c.version as number, c.dueAt as Date, c.at as Date)) listed++;
    }
    return listed;
  }

  /** False when that version was listed already (by a writer that lost the race for it, or a check). */
  function add(paymentId: string, version: number, dueAt: Date, since: Date): Promise<boolean> {
    const doc: DueDoc = {
      _id: keyOf(paymentId, version),
      paymentId: new Types.ObjectId(paymentId),
      version,
      dueAt,
      since,
    };
    return insert(doc);
  }

  return {
    add,

    /** Nothing of the payment is pending at `version`: every entry of an earlier version goes. */
    clear(paymentId: string, version: number): void {
      remove(Array.from({ length: version }, (_, v) => keyOf(paymentId, v)));
    },

    drop(item: Unsettled): void {
      remove([keyOf(item.paymentId, item.version)]);
    },

    /** Deletes now what is done. */
    flush: deleteDone,

    async list(limit: number): Promise<Unsettled[]> {
      const docs = await entries.find({}).sort({ dueAt: 1 }).limit(limit).toArray();
      return docs.map((d) => ({
        paymentId: d.paymentId.toHexString(),
        version: d.version,
        dueAt: d.dueAt,
        since: d.since,
      }));
    },

    async postpone(paymentId: string, dueAt: Date): Promise<void> {
      await entries.updateMany({ paymentId: new Types.ObjectId(paymentId) }, { $set: { dueAt } });
    },

    /**
     * Lists what is pending in data written without the list: by the version before it,
     * or restored from a backup (the list is not in backups: a restore drops it). Runs
     * at start, before the service takes work; entries of versions already settled are
     * dropped by the reconciler's first look.
     */
    async buildIfMissing(): Promise<void> {
      const indexes = await col.indexes().catch(() => []);
      if (indexes.some((i) => i.name === COMPLETE_INDEX)) return;
      const listed = await listPending({ changes: true });
      // The MongoDB index the reconciler reads in order; on FerretDB, the sign that the list is whole.
      await col.createIndex({ dueAt: 1 }, { name: COMPLETE_INDEX });
      if (listed > 0) log.warn({ listed }, 'listed the pending payments of data written without the due list');
    },

    /**
     * Lists a pending payment the list lacks: one whose start stored the payment but not
     * its entry (the two go at once), or one a replica of the version before the list
     * started during a rolling upgrade.
     */
    async check(): Promise<void> {
      const listed = await listPending({ changes: false });
      // Mostly payments settled while the check read them; their entries go at the reconciler's look.
      if (listed > 0) log.info({ listed }, 'listed pending payments the due list lacked');
    },
  };
}
