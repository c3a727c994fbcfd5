import mongoose, { Types } from 'mongoose';
import { isFerretDb } from '../../src/db/connect';
import { createPaymentStore } from '../../src/db/payments';
import { apply, succeed, type Payment } from '../../src/domain/payment';
import { createLogger } from '../../src/log';
import { firstPayment, newId, uniqueName } from '../support/harness';

/** A payment store on its own database, and every write command it sends, by collection. */
async function watchedStore() {
  const conn = await mongoose
    .createConnection(`${process.env.TEST_MONGO_URI}/${uniqueName('stored')}`, { monitorCommands: true })
    .asPromise();
  const writes: { command: string; collection: string }[] = [];
  const reads: string[] = [];
  conn.getClient().on('commandStarted', (e) => {
    if (['insert', 'update', 'delete'].includes(e.commandName)) {
      writes.push({ command: e.commandName, collection: String(e.command[e.commandName]) });
    }
    if (e.commandName === 'find') reads.push(String(e.command.find));
  });
  const dispatched: string[] = [];
  const payments = createPaymentStore(conn, {
    consequences: { dispatch: async (_p, events) => void dispatched.push(...events.map((e) => e.id)) },
    clock: { now: () => new Date() },
    log: createLogger({ level: 'silent' }),
  });
  const db = conn.getClient().db(conn.name);
  return { conn, db, payments, writes, reads, dispatched };
}

let store: Awaited<ReturnType<typeof watchedStore>>;
beforeEach(async () => {
  store = await watchedStore();
});
afterEach(() => store.conn.close());

/** A payment as this store keeps it, written straight to a collection (as an older version or a stopped writer left it). */
function asStored(p: Payment, fields: Record<string, unknown> = {}) {
  const { id, orderId, ...rest } = { ...p, ...fields };
  return { ...rest, _id: new Types.ObjectId(id), orderId: new Types.ObjectId(orderId as string) };
}

function started(orderId: string) {
  const at = new Date();
  return firstPayment({ orderId, userId: 'u1', amount: 1500, at, dueAt: new Date(at.getTime() + 60_000) });
}

describe('a payment is stored once, settled', () => {
  test('from its start to its settled copy, the payments get one insert and no update', async () => {
    const { db, payments, writes, reads, dispatched } = store;
    const p = started(newId());
    expect(await payments.start(p)).toBe(true);
    // The start reads nothing: its record among the changes is the claim that outlives the pending copy.
    expect(reads).toEqual([]);
    // Both at once, so in either order.
    expect([...writes].sort((a, b) => a.collection.localeCompare(b.collection))).toEqual([
      { command: 'insert', collection: 'payment_changes' },
      { command: 'insert', collection: 'payments_pending' },
    ]);
    expect(await payments.load(p.id)).toMatchObject({ status: 'pending', version: 0, source: 'tok_visa' });

    const change = succeed(p, 'ch_1', new Date());
    expect(await payments.record(change, apply(p, change))).toBe(true);
    await payments.idle();

    expect(writes.filter((w) => w.collection === 'payments')).toEqual([{ command: 'insert', collection: 'payments' }]);
    const stored = await db.collection('payments').findOne({ _id: new Types.ObjectId(p.id) });
    expect(stored).toMatchObject({ status: 'succeeded', version: 1, chargeId: 'ch_1', dueAt: null });
    expect(stored).not.toHaveProperty('source');
    expect(await db.collection('payments_pending').countDocuments()).toBe(0);
    expect(await payments.load(p.id)).toMatchObject({ status: 'succeeded', version: 1, source: null });
    expect(dispatched).toEqual(change.events.map((e) => e.id));
    expect(await payments.unsettled(10)).toEqual([]);
  });

  test('the attempt of a payment that settled and left the pending ones cannot be started again', async () => {
    const { db, payments } = store;
    const p = started(newId());
    expect(await payments.start(p)).toBe(true);
    const change = succeed(p, 'ch_2', new Date());
    await payments.record(change, apply(p, change));
    await payments.idle();
    expect(await db.collection('payments_pending').countDocuments()).toBe(0);

    expect(await payments.start(started(p.orderId as string))).toBe(false);
    await payments.idle();
    expect(await db.collection('payments_pending').countDocuments()).toBe(0);
    expect(await payments.load(p.id)).toMatchObject({ status: 'succeeded', chargeId: 'ch_2' });
  });

  test('a payment whose writer stopped after its change is moved by the next load past the grace', async () => {
    const { db, payments, dispatched } = store;
    const at = new Date(Date.now() - 60_000);
    const p = { ...started(newId()), createdAt: at, updatedAt: at };
    expect(await payments.start(p)).toBe(true);
    // Recorded straight into the changes, as by a writer that stopped before storing the payment.
    const change = succeed(p, 'ch_3', at);
    const { paymentId, ...rest } = change;
    await db
      .collection('payment_changes')
      .insertOne({ ...rest, _id: `${p.id}:1` as never, paymentId: new Types.ObjectId(paymentId) });

    expect(await payments.load(p.id)).toMatchObject({ status: 'succeeded', version: 1 });
    await payments.idle();
    expect(await db.collection('payments').findOne({ _id: new Types.ObjectId(p.id) })).toMatchObject({
      status: 'succeeded',
      version: 1,
    });
    expect(await db.collection('payments_pending').countDocuments()).toBe(0);
    expect(dispatched).toEqual(change.events.map((e) => e.id));
  });

  test('a payment stored by the version before (no start recorded) holds its attempt once starts are recorded', async () => {
    const { db, payments } = store;
    const p = started(newId());
    const { id, orderId } = p;
    const { source: _source, ...failed } = asStored(p, { status: 'failed', version: 1, dueAt: null });
    await db.collection('payments').insertOne(failed);

    await payments.recordStarts();
    expect(await db.collection('payment_changes').findOne({ _id: `${id}:0` as never })).toMatchObject({
      version: 0,
      kind: 'started',
    });
    expect(await payments.start(started(orderId as string))).toBe(false);
    await payments.idle();
    expect(await db.collection('payments_pending').countDocuments()).toBe(0);
    expect(await payments.load(id)).toMatchObject({ status: 'failed' });
    // Once: the next start of the service finds them recorded.
    await db.collection('payment_changes').deleteOne({ _id: `${id}:0` as never });
    await payments.recordStarts();
    expect(await db.collection('payment_changes').countDocuments({ _id: `${id}:0` as never })).toBe(0);
  });

  test('a start that stopped between its pending copy and its record gets the record at the next load', async () => {
    const { db, payments } = store;
    const p = started(newId());
    const { id, orderId } = p;
    await db.collection('payments_pending').insertOne(asStored(p));
    expect(await db.collection('payment_changes').countDocuments()).toBe(0);

    expect(await payments.load(id)).toMatchObject({ status: 'pending', source: 'tok_visa' });
    expect(await db.collection('payment_changes').findOne({ _id: `${id}:0` as never })).toMatchObject({
      kind: 'started',
    });
    const change = succeed(p, 'ch_4', new Date());
    await payments.record(change, apply(p, change));
    await payments.idle();
    expect(await payments.start(started(orderId as string))).toBe(false);
  });

  test.each([
    // What a load leaves when it reads the pending copy before the start records itself.
    ['a load that read its pending copy first (between its two inserts)', 0],
    // A start's two inserts go at once: a racing start can lose the pending copy and still write the record.
    ['another start (one that lost the pending copy)', -5],
  ])('a start whose record was written by %s still holds its attempt', async (_, msBefore) => {
    const { db, payments } = store;
    const p = started(newId());
    const at = new Date(p.createdAt.getTime() + msBefore);
    const start = { _id: `${p.id}:0`, paymentId: new Types.ObjectId(p.id), version: 0, at };
    await db.collection('payment_changes').insertOne({ ...start, kind: 'started', status: 'pending' } as never);

    expect(await payments.start(p)).toBe(true);
    await payments.idle();
    expect(await payments.load(p.id)).toMatchObject({ status: 'pending', source: 'tok_visa', createdAt: p.createdAt });
    expect((await payments.unsettled(10)).map((u) => u.paymentId)).toEqual([p.id]);
  });

  test('of starts racing for one attempt on two replicas, exactly one holds it, with its own pending copy', async () => {
    const { db, payments } = store;
    // A second replica on the same database: its inserts go in commands of their own.
    const other = await mongoose.createConnection(`${process.env.TEST_MONGO_URI}/${db.databaseName}`).asPromise();
    const replica = createPaymentStore(other, {
      consequences: { dispatch: async () => undefined },
      clock: { now: () => new Date() },
      log: createLogger({ level: 'silent' }),
    });
    try {
      for (let round = 0; round < 20; round++) {
        const orderId = newId();
        const racers = Array.from({ length: 4 }, (_, i) => {
          const p = started(orderId);
          const at = new Date(p.createdAt.getTime() + i);
          return { ...p, source: `tok_${i}`, createdAt: at, updatedAt: at };
        });
        const won = await Promise.all(racers.map((p, i) => (i % 2 === 0 ? payments : replica).start(p)));
        expect(won.filter(Boolean)).toHaveLength(1);
        const winner = racers[won.indexOf(true)]!;
        await Promise.all([payments.idle(), replica.idle()]);
        expect(await payments.load(winner.id)).toMatchObject({ source: winner.source, createdAt: winner.createdAt });
      }
    } finally {
      await other.close();
    }
  });
});

describe('the list of what is pending, rebuilt after a restore', () => {
  test('holds no payment that settled, and each one in flight once', async () => {
    const { db, payments } = store;
    for (const n of [1, 2, 3]) {
      const p = started(newId());
      expect(await payments.start(p)).toBe(true);
      const change = succeed(p, `ch_settled_${n}`, new Date());
      expect(await payments.record(change, apply(p, change))).toBe(true);
    }
    const inFlight = started(newId());
    expect(await payments.start(inFlight)).toBe(true);
    await payments.idle();

    // A restore drops the list, which is derived; the service rebuilds it at its next start, before it takes work.
    await payments.due.buildIfMissing();
    // A start's pending copy lists it while it is in flight: its start record, which stays, lists nothing.
    expect(await db.collection('payments_due').countDocuments()).toBe(0);
    expect((await payments.unsettled(10)).map((u) => [u.paymentId, u.version])).toEqual([[inFlight.id, 0]]);
  });
});

describe('what a payment costs the store', () => {
  // FerretDB v1 reads by no index but _id's, and each index costs every insert a parse of the whole document.
  test('on FerretDB the payments carry no index but _id, also where a version before built the lists ones', async () => {
    const { db, payments } = store;
    await db.collection('payments').createIndex({ createdAt: -1, _id: -1 });
    await db.collection('payments').createIndex({ orderId: 1 });
    await payments.init();
    const names = (await db.collection('payments').indexes()).map((i) => i.name).sort();
    if (!(await isFerretDb(store.conn))) {
      expect(names).toEqual(expect.arrayContaining(['_id_', 'createdAt_-1__id_-1', 'orderId_1', 'dueAt_1']));
    } else {
      expect(names).toEqual(['_id_']);
    }
  });

  test('its stored copies leave out the fields at their defaults, and read back with them', async () => {
    const { db, payments } = store;
    const p = started(newId());
    expect(await payments.start(p)).toBe(true);
    const defaults = ['request', 'requestKey', 'failureReason', 'declineCode', 'dispute', 'amountRefunded', 'refunds'];
    const pending = await db.collection('payments_pending').findOne({ _id: new Types.ObjectId(p.id) });
    for (const field of [...defaults, 'chargeId']) expect(pending).not.toHaveProperty(field);
    expect(await db.collection('payment_changes').findOne({ _id: `${p.id}:0` as never })).not.toHaveProperty('events');

    const change = succeed(p, 'ch_lean', new Date());
    await payments.record(change, apply(p, change));
    await payments.idle();
    const stored = await db.collection('payments').findOne({ _id: new Types.ObjectId(p.id) });
    for (const field of defaults) expect(stored).not.toHaveProperty(field);
    expect(await payments.load(p.id)).toMatchObject({
      status: 'succeeded',
      chargeId: 'ch_lean',
      request: null,
      requestKey: null,
      failureReason: null,
      declineCode: null,
      dispute: null,
      amountRefunded: 0,
      refunds: [],
    });
  });
});
