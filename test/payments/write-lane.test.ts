import mongoose from 'mongoose';
import { createOrderStore } from '../../src/db/orders';
import { createPaymentStore, PROJECTION_GATHER_MS } from '../../src/db/payments';
import { insertOnce, laneOf, limitWrites } from '../../src/db/writes';
import { apply, paymentIdFor, refundIdFor, requestRefund, succeed } from '../../src/domain/payment';
import { createLogger } from '../../src/log';
import { firstPayment, newId, uniqueName } from '../support/harness';

const WRITES = new Set(['insert', 'update', 'delete']);
const N = 20;

/**
 * A connection whose stores write through a lane of `limit`, watched from the driver: the most
 * write commands it ever had in flight at once, and how many it sent.
 */
async function watched(limit: number) {
  const conn = await mongoose
    .createConnection(`${process.env.TEST_MONGO_URI}/${uniqueName('lane')}`, { monitorCommands: true })
    .asPromise();
  limitWrites(conn, limit);
  const client = conn.getClient();
  const open = new Set<number>();
  const seen = { most: 0, sent: 0, byCollection: new Map<string, number>() };
  client.on('commandStarted', (e) => {
    if (!WRITES.has(e.commandName)) return;
    open.add(e.requestId);
    seen.sent++;
    const target = `${e.commandName}:${String(e.command[e.commandName])}`;
    seen.byCollection.set(target, (seen.byCollection.get(target) ?? 0) + 1);
    seen.most = Math.max(seen.most, open.size);
  });
  const done = (e: { requestId: number }) => open.delete(e.requestId);
  client.on('commandSucceeded', done);
  client.on('commandFailed', done);
  return { conn, seen };
}

function paymentStore(conn: mongoose.Connection) {
  return createPaymentStore(conn, {
    consequences: { dispatch: async () => undefined },
    clock: { now: () => new Date() },
    log: createLogger({ level: 'silent' }),
  });
}

/** N orders and N payments at once: writes to three collections (orders, the pending payments, their starts). */
async function burst(conn: mongoose.Connection) {
  const orders = createOrderStore(conn);
  const payments = paymentStore(conn);
  const at = new Date();
  const ids = Array.from({ length: N }, () => newId());
  const results = await Promise.all(
    ids.flatMap((orderId) => [
      orders.add({
        id: orderId,
        version: 0,
        status: 'created',
        userId: 'u1',
        amount: 1500,
        currency: 'usd',
        paidBy: null,
        arrived: true,
      }),
      payments.start(firstPayment({ orderId, userId: 'u1', amount: 1500, at, dueAt: new Date(at.getTime() + 60_000) })),
    ]),
  );
  await payments.idle();
  return { results, ids, orders, payments };
}

describe('writes through one lane (MONGO_WRITES_IN_FLIGHT)', () => {
  test('with 1, writes to several collections at once never overlap, go together, and all land', async () => {
    const { conn, seen } = await watched(1);
    try {
      const { results, ids, orders, payments } = await burst(conn);
      expect(results.every(Boolean)).toBe(true);
      for (const id of ids) {
        expect(await orders.get(id)).toMatchObject({ id, status: 'created' });
        expect(await payments.load(paymentIdFor(id, 0))).toMatchObject({ status: 'pending', version: 0 });
      }
      expect((await payments.unsettled(1000)).length).toBe(N);
      expect(seen.most).toBe(1);
      // 3 * N documents in far fewer commands (one each without the lane's grouping): what waited went together.
      expect(seen.sent).toBeLessThan(1.5 * N);
    } finally {
      await conn.close();
    }
  });

  test('with 0 (no limit), the same writes overlap', async () => {
    const { conn, seen } = await watched(0);
    try {
      const { results } = await burst(conn);
      expect(results.every(Boolean)).toBe(true);
      expect(seen.most).toBeGreaterThan(1);
    } finally {
      await conn.close();
    }
  });

  test('the lane goes to the next write before the writers of the last one go on', async () => {
    const { conn, seen } = await watched(1);
    try {
      const db = conn.getClient().db(conn.name);
      const lane = laneOf(conn);
      const [intoA, intoB] = ['lane_a', 'lane_b'].map((name) => insertOnce(db.collection(name), lane));
      // The pool's connection, opened before: the second write needs no new one. Then a turn of the
      // event loop, for that insert's batch to end.
      await intoA!({ _id: 'warm' });
      await new Promise((resolve) => setImmediate(resolve));
      const startedB = () => seen.byCollection.get('insert:lane_b') ?? 0;
      let whenAResumed = -1;
      // What a writer does once its insert is answered (on the way of a payment: the call to the
      // provider, the next record) must not hold the lane while the next write waits for it.
      const a = intoA!({ _id: 'a' }).then(() => {
        whenAResumed = startedB();
      });
      const b = intoB!({ _id: 'b' });
      await Promise.all([a, b]);
      expect(whenAResumed).toBe(1);
    } finally {
      await conn.close();
    }
  });

  test('settled payments one after another are stored in the payments together, not one command each', async () => {
    const { conn, seen } = await watched(1);
    try {
      const payments = paymentStore(conn);
      const at = new Date();
      const started = Array.from({ length: N }, () =>
        firstPayment({ orderId: newId(), userId: 'u1', amount: 1500, at, dueAt: new Date(at.getTime() + 60_000) }),
      );
      await Promise.all(started.map((p) => payments.start(p)));
      // One at a time, as requests far apart would: nothing else is waiting to go with each.
      const began = Date.now();
      for (const p of started) {
        const change = succeed(p, `ch_${p.id}`, new Date());
        expect(await payments.record(change, apply(p, change))).toBe(true);
      }
      const took = Date.now() - began;
      await payments.idle();
      const stored = await payments.models.Payments.find({ _id: { $in: started.map((p) => p.id) } }).lean();
      expect(stored.map((d) => d.status)).toEqual(started.map(() => 'succeeded'));
      expect(seen.byCollection.get('insert:payment_changes')).toBeGreaterThanOrEqual(N);
      // Those settled within one gathering went in one command (a slow machine takes more of them).
      expect(seen.byCollection.get('insert:payments')).toBeLessThanOrEqual(Math.ceil(took / PROJECTION_GATHER_MS) + 2);
    } finally {
      await conn.close();
    }
  });

  test('a change recorded while the first settle is still gathering is stored after it, not before', async () => {
    const { conn } = await watched(1);
    try {
      const payments = paymentStore(conn);
      const at = new Date();
      const p = firstPayment({
        orderId: newId(),
        userId: 'u1',
        amount: 1500,
        at,
        dueAt: new Date(at.getTime() + 60_000),
      });
      await payments.start(p);
      const settle = succeed(p, 'ch_1', new Date());
      const settled = apply(p, settle);
      const now = new Date();
      const refund = requestRefund(settled, {
        refundId: refundIdFor(p.id, 2),
        amount: 500,
        reason: 'requested_by_customer',
        at: now,
        dueAt: new Date(now.getTime() + 60_000),
      });
      // At once, as an admin's refund right after the payment: the second change's projection must wait for the first's.
      expect(await payments.record(settle, settled)).toBe(true);
      expect(await payments.record(refund, apply(settled, refund))).toBe(true);
      await payments.idle();
      const stored = await payments.models.Payments.findById(p.id).lean();
      expect(stored).toMatchObject({ version: 2, status: 'succeeded' });
      expect(stored?.refunds).toHaveLength(1);
    } finally {
      await conn.close();
    }
  });
});
