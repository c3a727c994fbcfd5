import mongoose, { Types } from 'mongoose';
import type { Unsettled } from '../domain/ports';
import type { Logger } from '../log';
import { DUE_COLLECTION, PENDING_COLLECTION } from './collections';
import { deleteFromSmallById, insertOnce, updateById, type WriteLane } from './writes';

// Built once the list is complete: without it, the list is built from the payments at start.
const COMPLETE_INDEX = 'dueAt_1';

/**
 * What the reconciler must look at: every payment still in the pending payments
 * (its start left its charge pending; db/payments.ts), and one entry for each
 * later change that left something of a payment pending (a refund, a void),
 * keyed `<paymentId>:<version>`; the version before the pending payments wrote
 * such an entry for a start too.
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

// Entries that are done are deleted together, four times a second: one statement for many. Deleted
// with each payment, on SQLite (one writer at a time), they cost a commit per payment. FerretDB v1
// answers a delete of many ids by reading the whole collection (about 0.25 ms a pending payment on
// SQLite), in flight ones too: once a second, 20 to 45 ms, long enough to show in the requests' p99
// when it held the write lane (it no longer does: db/writes.ts); four times as often, a quarter as long.
const CLEAR_EVERY_MS = 250;

export function createDueList(db: mongoose.mongo.Db, lane: WriteLane, log: Logger) {
  const col = db.collection(DUE_COLLECTION);
  const entries = col as unknown as mongoose.mongo.Collection<DueDoc>;
  const pending = db.collection(PENDING_COLLECTION);
  const insert = insertOnce(col, lane);
  const deleteEntry = deleteFromSmallById(col);
  const deletePending = deleteFromSmallById(pending);
  const updatePending = updateById(pending, lane);
  let done: string[] = [];
  let donePending: Types.ObjectId[] = [];
  let timer: NodeJS.Timeout | null = null;

  // What is not deleted stays listed until the reconciler looks at it again: a failure is logged, not thrown.
  async function deleteDone(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = null;
    const [ids, pendingIds] = [done, donePending];
    [done, donePending] = [[], []];
    try {
      await Promise.all([...ids.map(deleteEntry), ...pendingIds.map(deletePending)]);
    } catch (err) {
      log.warn({ err }, 'could not delete settled entries of the due list');
    }
  }

  function later(): void {
    timer ??= setTimeout(() => void deleteDone(), CLEAR_EVERY_MS).unref();
  }

  function remove(ids: string[]): void {
    done.push(...ids);
    later();
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
    // Not the starts (version 0): a start in flight is listed by its pending copy, and its record stays
    // with its dueAt once it settled (listed, every payment ever started would be looked at again).
    const changes = db
      .collection('payment_changes')
      .find(
        { dueAt: { $ne: null }, version: { $gt: 0 } },
        { projection: { paymentId: 1, version: 1, dueAt: 1, at: 1 } },
      );
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

    /** The payment is in the payments now: its pending copy goes. */
    unlistPending(paymentId: string): void {
      donePending.push(new Types.ObjectId(paymentId));
      later();
    },

    /** Deletes now what is done. */
    flush: deleteDone,

    async list(limit: number): Promise<Unsettled[]> {
      const [listed, started] = await Promise.all([
        entries.find({}).sort({ dueAt: 1 }).limit(limit).toArray(),
        pending
          .find({}, { projection: { dueAt: 1, createdAt: 1 } })
          .sort({ dueAt: 1 })
          .limit(limit)
          .toArray(),
      ]);
      const all: Unsettled[] = [
        ...listed.map((d) => ({
          paymentId: d.paymentId.toHexString(),
          version: d.version,
          dueAt: d.dueAt,
          since: d.since,
        })),
        ...started.map((d) => ({
          paymentId: String(d._id),
          version: 0,
          dueAt: d.dueAt as Date,
          since: d.createdAt as Date,
        })),
      ];
      return all.sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime()).slice(0, limit);
    },

    async postpone(paymentId: string, dueAt: Date): Promise<void> {
      const id = new Types.ObjectId(paymentId);
      await Promise.all([
        entries.updateMany({ paymentId: id }, { $set: { dueAt } }),
        updatePending(id, { $set: { dueAt } }),
      ]);
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
     * Lists a payment pending in the payments that the lists lack: one a replica of a
     * version before the pending payments started during a rolling upgrade.
     */
    async check(): Promise<void> {
      const listed = await listPending({ changes: false });
      // Mostly payments settled while the check read them; their entries go at the reconciler's look.
      if (listed > 0) log.info({ listed }, 'listed pending payments the due list lacked');
    },
  };
}
