import { Schema, Types, type Connection } from 'mongoose';
import { apply, PAYMENT_STATUSES, type Change, type Payment, type PaymentEvent } from '../domain/payment';
import type { Clock, Payments } from '../domain/ports';
import type { Logger } from '../log';
import { PENDING_COLLECTION } from './collections';
import { createDueList } from './due';
import { indexName, isFerretDb } from './connect';
import { findById, insertOnce, laneOf, updateById } from './writes';

/** The payment as it stands: a projection of its changes, kept up to date by _id. */
export interface PaymentDoc extends Omit<Payment, 'id' | 'orderId'> {
  _id: Types.ObjectId;
  orderId: Types.ObjectId | null;
}

/** One change of a payment, inserted once under `<paymentId>:<version>`: the record that decides it. */
interface ChangeDoc extends Omit<Change, 'paymentId'> {
  _id: string;
  paymentId: Types.ObjectId;
}

const refundSchema = new Schema(
  {
    id: String,
    amount: Number,
    reason: String,
    status: String,
    providerId: String,
    failureReason: String,
    requestKey: String,
    createdAt: Date,
    updatedAt: Date,
  },
  { _id: false },
);
const disputeSchema = new Schema({ id: String, amount: Number, reason: String, at: Date }, { _id: false });
const history = new Schema({ status: String, at: Date, change: String, reason: String }, { _id: false });
const requestSchema = new Schema(
  {
    id: String,
    customerId: String,
    reference: new Schema({ type: { type: String }, id: String }, { _id: false }),
    description: String,
  },
  { _id: false },
);
const paymentSchema = new Schema<PaymentDoc>(
  {
    orderId: { type: Schema.Types.ObjectId, default: null },
    userId: { type: String, required: true },
    email: { type: String, default: null },
    request: { type: requestSchema, default: null },
    amount: { type: Number, required: true },
    currency: { type: String, required: true },
    status: { type: String, enum: PAYMENT_STATUSES, required: true },
    version: { type: Number, required: true },
    chargeId: { type: String, default: null },
    failureReason: { type: String, default: null },
    declineCode: { type: String, default: null },
    amountRefunded: { type: Number, default: 0 },
    refunds: [refundSchema],
    dispute: { type: disputeSchema, default: null },
    source: { type: String, default: null },
    requestKey: { type: String, default: null },
    dueAt: { type: Date, default: null },
    history: [history],
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  // Built by init(), on MongoDB only.
  { collection: 'payments', versionKey: false, autoIndex: false },
);
// What MongoDB answers the lists from (FerretDB v1 reads the collection instead):
// newest first, for everyone, for one user, in one status, and one order's payments.
paymentSchema.index({ createdAt: -1, _id: -1 });
paymentSchema.index({ userId: 1, createdAt: -1, _id: -1 });
paymentSchema.index({ status: 1, createdAt: -1, _id: -1 });
paymentSchema.index({ orderId: 1 });
// The pending ones, for the check of the reconciler's list (db/due.ts).
paymentSchema.index({ dueAt: 1 });

const changeSchema = new Schema<ChangeDoc>(
  {
    _id: { type: String, required: true },
    paymentId: { type: Schema.Types.ObjectId, required: true },
    version: { type: Number, required: true },
    at: { type: Date, required: true },
    kind: { type: String, required: true },
    status: { type: String, enum: PAYMENT_STATUSES, required: true },
    reason: String,
    chargeId: String,
    failureReason: String,
    declineCode: String,
    amountRefunded: Number,
    refunds: { type: [refundSchema], default: undefined },
    dispute: { type: disputeSchema, default: undefined },
    dueAt: { type: Date, default: null },
    events: [new Schema({ id: String, kind: String, refundId: String }, { _id: false })],
  },
  { collection: 'payment_changes', versionKey: false },
);

const changeKey = (paymentId: string, version: number) => `${paymentId}:${version}`;

/**
 * A payment's start, recorded as its version 0 among its changes: its id is the claim on
 * the order's attempt, and unlike the pending copy it is never deleted. Reading the
 * payments instead would cost a read on the way of every payment (on FerretDB's
 * PostgreSQL handler, one that reads the whole collection).
 */
function startOf(id: Types.ObjectId, createdAt: Date, dueAt: Date | null) {
  return {
    _id: changeKey(id.toHexString(), 0),
    paymentId: id,
    version: 0,
    at: createdAt,
    kind: 'started',
    status: 'pending',
    dueAt,
  };
}

// On the pending payments, once every stored payment has its start recorded (the version
// before recorded none); also MongoDB's index for the reconciler's read of them.
const STARTS_RECORDED = 'dueAt_1';

// Nobody waits for a settled payment's insert into the payments (its reads apply its changes):
// gathered this long, under load many go in one command, and the lane is free for the
// inserts requests wait for.
export const PROJECTION_GATHER_MS = 50;

// How long the writer of a change has to queue its events and update the projection.
const WRITER_GRACE_MS = 5000;

// What a payment holds until something happens to it: its stored copies leave these out, and
// toPayment gives them back. FerretDB's work on a document grows with its fields, to write it, to
// index it and to read it again (a delete of pending copies reads them all); so does the driver's.
const DEFAULTS = {
  email: null,
  request: null,
  requestKey: null,
  chargeId: null,
  failureReason: null,
  declineCode: null,
  dispute: null,
  amountRefunded: 0,
} as const;

export function toPayment(d: PaymentDoc): Payment {
  const { _id, orderId, ...rest } = d;
  return {
    // Left out at their defaults (toDoc), or written before these fields existed.
    ...DEFAULTS,
    ...rest,
    id: _id.toHexString(),
    orderId: orderId?.toHexString() ?? null,
    // Removed once settled.
    source: rest.source ?? null,
    refunds: rest.refunds ?? [],
  };
}

const atDefault = (field: string, value: unknown) =>
  field === 'refunds'
    ? (value as unknown[]).length === 0
    : field in DEFAULTS && DEFAULTS[field as keyof typeof DEFAULTS] === value;

function toDoc(p: Payment): PaymentDoc {
  const { id, orderId, ...rest } = p;
  const fields = Object.fromEntries(Object.entries(rest).filter(([field, value]) => !atDefault(field, value)));
  const _id = new Types.ObjectId(id);
  return { ...fields, _id, orderId: orderId === null ? null : new Types.ObjectId(orderId) } as PaymentDoc;
}

function toChange(d: ChangeDoc): Change {
  const { _id, paymentId, ...rest } = d;
  return { ...rest, paymentId: paymentId.toHexString(), dueAt: rest.dueAt ?? null };
}

/** What a recorded change sets off: its events are delivered, or stored to be (the outbox). */
export interface Consequences {
  dispatch(payment: Payment, events: PaymentEvent[]): Promise<void>;
}

/**
 * The payments repository: a payment starts with one insert into the pending
 * payments (its id is the claim on the order's attempt), and every later change
 * is one insert keyed `<paymentId>:<version>` that carries its events. That
 * insert is the record: once it is written the change has happened, and `record`
 * returns. Its events are then dispatched and the projection brought up to date,
 * without the caller waiting: the first change inserts the payment into the
 * payments, and only then does it leave the pending ones. So a payment is
 * written into `payments` once, settled, and not written again and again on its
 * way (on FerretDB, each update is a commit of its own; inserts go many to a
 * commit). A writer that stopped before that is finished by the next one that
 * loads the payment (the reconciler does, for a payment still pending past its
 * dueAt). What a change leaves pending is listed for the reconciler before the
 * change (db/due.ts).
 */
export function createPaymentStore(conn: Connection, deps: { consequences: Consequences; clock: Clock; log: Logger }) {
  const { consequences, clock } = deps;
  const Payments = conn.model<PaymentDoc>('Payment', paymentSchema);
  const Changes = conn.model<ChangeDoc>('PaymentChange', changeSchema);
  const payments = conn.getClient().db(conn.name).collection('payments');
  const changes = conn.getClient().db(conn.name).collection('payment_changes');
  const pending = conn.getClient().db(conn.name).collection(PENDING_COLLECTION);
  const lane = laneOf(conn);
  const insertPending = insertOnce(pending, lane);
  const insertSettled = insertOnce(payments, lane, { gatherMs: PROJECTION_GATHER_MS });
  const insertPayment = insertOnce(payments, lane);
  const insertChange = insertOnce(changes, lane);
  const updatePayment = updateById(payments, lane);
  const due = createDueList(conn.getClient().db(conn.name), lane, deps.log);

  // Inserted whole the first time (a settled payment holds no card token); then everything but
  // the fields a payment is born with, so that applying a version twice is harmless. Only the
  // first change's insert is gathered: a refund or a void shows in the lists once it is done.
  async function project(p: Payment): Promise<void> {
    const { source, ...whole } = toDoc(p);
    const insert = p.version === 1 ? insertSettled : insertPayment;
    if (await insert(source === null ? whole : { ...whole, source })) return;
    const { status, version, chargeId, failureReason, declineCode, amountRefunded, refunds, dispute, dueAt } = p;
    const set = { status, version, chargeId, failureReason, declineCode, amountRefunded, refunds, dispute, dueAt };
    const update = { $set: { ...set, history: p.history, updatedAt: p.updatedAt } };
    await updatePayment(new Types.ObjectId(p.id), p.source === null ? { ...update, $unset: { source: '' } } : update);
  }

  // A payment's projection moves one change at a time, and not back to an older one while a newer
  // one is on its way: a change recorded while the first one's insert gathers waits for it.
  const projecting = new Map<string, { tail: Promise<void>; version: number }>();
  function projectInOrder(p: Payment): Promise<void> {
    const queue = projecting.get(p.id) ?? { tail: Promise.resolve(), version: 0 };
    const done = queue.tail.then(async () => {
      if (p.version <= queue.version) return;
      await project(p);
      queue.version = p.version;
    });
    const tail = done.catch(() => undefined);
    queue.tail = tail;
    projecting.set(p.id, queue);
    void tail.then(() => {
      if (queue.tail === tail) projecting.delete(p.id);
    });
    return done;
  }

  // A change's consequences in hand here: one that a load (or a later change) finds not done
  // yet joins them instead of sending its events a second time.
  const inHand = new Map<string, Promise<void>>();
  function complete(p: Payment, events: PaymentEvent[]): Promise<void> {
    const key = changeKey(p.id, p.version);
    const running = inHand.get(key);
    if (running) return running;
    const done = consequencesOf(p, events);
    inHand.set(key, done);
    void done.catch(() => undefined).finally(() => inHand.delete(key));
    return done;
  }

  /**
   * Waits for the consequences of the changes before `p` when no writer in this process has them
   * in hand: a change's projection would hide one whose writer stopped before them (its events
   * never sent). Its writer has the grace to finish; after it, load finishes for it.
   */
  async function earlierDone(p: Payment): Promise<void> {
    // In hand here: once it is done, so are those before it.
    const before = inHand.get(changeKey(p.id, p.version - 1));
    const doneHere = before ? await before.then(() => true).catch(() => false) : false;
    if (doneHere) return;
    const stored = await findById<PaymentDoc>(payments, new Types.ObjectId(p.id));
    if ((stored?.version ?? 0) >= p.version - 1) return;
    const recorded = await findChange(p.id, p.version - 1);
    const wait = recorded ? recorded.at.getTime() + WRITER_GRACE_MS - clock.now().getTime() : 0;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 1));
    await read(p.id, p.version - 1);
  }

  // The projection moves only once its events are delivered or stored: a projection
  // behind its changes is how the reconciler finds events a crash left undelivered.
  async function consequencesOf(p: Payment, events: PaymentEvent[]): Promise<void> {
    if (p.version > 1) await earlierDone(p);
    await consequences.dispatch(p, events);
    await projectInOrder(p);
    if (p.version === 1) {
      // The start's entry is its pending copy (one the version before listed in the due list goes
      // at the reconciler's look, which clears what it finds settled).
      due.unlistPending(p.id);
    } else if (p.dueAt === null) {
      // Nothing pending, and its consequences done: its own entry goes too.
      due.clear(p.id, p.version + 1);
    }
  }

  const completing = new Set<Promise<void>>();
  function completeLater(p: Payment, events: PaymentEvent[]): void {
    const done = complete(p, events).catch((err: unknown) => {
      deps.log.error(
        { err, paymentId: p.id, version: p.version },
        'change recorded, its consequences wait for the reconciler',
      );
    });
    completing.add(done);
    void done.finally(() => completing.delete(done));
  }

  async function findChange(paymentId: string, version: number): Promise<Change | null> {
    const d = await findById<ChangeDoc>(changes, changeKey(paymentId, version));
    return d ? toChange(d) : null;
  }

  /** The payment as its changes left it (up to `upTo`), finishing for a writer that stopped. */
  async function read(id: string, upTo = Number.MAX_SAFE_INTEGER): Promise<Payment | null> {
    if (!Types.ObjectId.isValid(id)) return null;
    const _id = new Types.ObjectId(id);
    // The stored copy first: a pending copy left behind (its deletion failed) is older than it.
    // Then the pending one, then the stored again: a payment may move in between.
    let d = await findById<PaymentDoc>(payments, _id);
    if (!d) {
      const started = await findById<PaymentDoc>(pending, _id);
      // A start that stopped between its two inserts left no record of it: made here, before anyone settles it.
      if (started) await insertChange(startOf(_id, started.createdAt, started.dueAt));
      d = started ?? (await findById<PaymentDoc>(payments, _id));
    }
    if (!d) return null;
    let p = toPayment(d);
    for (let v = p.version + 1; v <= upTo; v++) {
      const next = await findChange(id, v);
      if (!next) break;
      p = apply(p, next);
      // A writer that has not finished in this time has stopped: finish for it. Sooner, it is
      // most likely finishing now, and doing it too could send its events a second time.
      if (clock.now().getTime() - next.at.getTime() > WRITER_GRACE_MS) await complete(p, next.events);
    }
    return p;
  }

  const store: Payments & {
    models: { Payments: typeof Payments; Changes: typeof Changes };
    /** What the reconciler must look at (db/due.ts). */
    due: typeof due;
    init(): Promise<void>;
    /** Resolves once the consequences of every change recorded so far are done (and written). */
    idle(): Promise<void>;
    recordStarts(): Promise<void>;
    changes(paymentId: string): Promise<Change[]>;
  } = {
    models: { Payments, Changes },
    due,
    async idle() {
      while (completing.size > 0) await Promise.all(completing);
      await due.flush();
    },
    async init() {
      await Promise.all([Payments.init(), Changes.init()]);
      // The lists' indexes serve MongoDB. FerretDB v1 reads by none of them, and each costs every
      // insert a parse of the whole document: there they are not built, and dropped if built before.
      if (!(await isFerretDb(conn))) {
        await Payments.createIndexes();
        return;
      }
      const lists = new Set(paymentSchema.indexes().map(([fields]) => indexName(fields)));
      for (const { name } of await payments.indexes()) {
        if (name !== undefined && lists.has(name)) await payments.dropIndex(name);
      }
    },

    async start(p) {
      // Both inserts at once, one pass through the write lane less on the way of every payment. The
      // pending copy decides between racing starts; the start record, which outlives it, whether the
      // attempt was taken before.
      const begun = startOf(new Types.ObjectId(p.id), p.createdAt, p.dueAt);
      const [stored, recorded] = await Promise.all([insertPending(toDoc(p)), insertChange(begun)]);
      if (!stored) return false;
      if (recorded) return true;
      // Recorded already: by a load that found this start's pending copy first, by a racing start that
      // lost the pending copy (or failed to write it), or by an attempt settled before. Only the last is
      // in the payments: a settled payment is stored there before its pending copy goes.
      if (!(await findById(payments, begun.paymentId))) return true;
      due.unlistPending(p.id);
      return false;
    },

    /**
     * Records the start of every stored payment that has none, once: data of the
     * version before, or restored from its backup. Runs at start, before the service takes work.
     */
    async recordStarts() {
      const indexes = await pending.indexes().catch(() => []);
      if (indexes.some((i) => i.name === STARTS_RECORDED)) return;
      let recorded = 0;
      let batch: Promise<boolean>[] = [];
      const settle = async () => {
        recorded += (await Promise.all(batch)).filter(Boolean).length;
        batch = [];
      };
      for await (const d of payments.find({}, { projection: { createdAt: 1, dueAt: 1 } })) {
        batch.push(insertChange(startOf(d._id as Types.ObjectId, d.createdAt as Date, null)));
        if (batch.length === 500) await settle();
      }
      await settle();
      await pending.createIndex({ dueAt: 1 }, { name: STARTS_RECORDED });
      if (recorded > 0) deps.log.warn({ recorded }, 'recorded the starts of payments stored without them');
    },

    async record(change, after) {
      const { paymentId, ...rest } = change;
      // Listed before it is recorded, so that a writer that stops after it leaves it to the reconciler:
      // a change that leaves something pending, until its dueAt; one that leaves nothing pending (a
      // dispute, a refund done), until its consequences are done. The first change is listed by its
      // payment's pending copy.
      const lookAt = change.dueAt ?? (change.version > 1 ? new Date(change.at.getTime() + 2 * WRITER_GRACE_MS) : null);
      if (lookAt !== null) await due.add(paymentId, change.version, lookAt, change.at);
      const recorded = await insertChange({
        ...rest,
        _id: changeKey(paymentId, change.version),
        paymentId: new Types.ObjectId(paymentId),
      });
      if (!recorded) return false;
      completeLater(after, change.events);
      return true;
    },

    load: (id) => read(id),

    unsettled: (limit) => due.list(limit),

    postpone: (paymentId, dueAt) => due.postpone(paymentId, dueAt),

    // As a version 1 entry: not a start (version 0) that the oldest pending payment's age would count.
    lookAtLater: async (paymentId, at) => void (await due.add(paymentId, 1, at, clock.now())),

    async reconciled(item, found) {
      if (found === null) {
        // Listed by a start that never stored its payment; sooner, the start may be under way.
        if (clock.now().getTime() - item.since.getTime() > WRITER_GRACE_MS) due.drop(item);
      } else if (found.dueAt === null) {
        // Only up to the entry looked at: a change recorded since (by this pass too) stays listed
        // until its consequences are done, so that a writer that stops before them leaves them listed.
        due.clear(found.id, item.version + 1);
        // Its pending copy goes once it is stored; until then its writer may be storing it now.
        if (item.version === 0 && (await findById(payments, new Types.ObjectId(found.id)))) {
          due.unlistPending(found.id);
        }
      }
    },

    async changes(paymentId) {
      const found: Change[] = [];
      for (let v = 1, c = await findChange(paymentId, v); c; c = await findChange(paymentId, ++v)) found.push(c);
      return found;
    },
  };
  return store;
}

export type PaymentStore = ReturnType<typeof createPaymentStore>;
