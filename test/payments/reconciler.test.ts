import { Types } from 'mongoose';
import request from 'supertest';
import { connectDb, type Db } from '../../src/db/connect';
import { createPaymentStore } from '../../src/db/payments';
import { apply, markDisputed, paymentIdFor, refundIdFor, requestRefund } from '../../src/domain/payment';
import type { Clock, Payments } from '../../src/domain/ports';
import { createReconcile } from '../../src/domain/reconcile';
import { createSettle } from '../../src/domain/settle';
import { createLogger } from '../../src/log';
import { createStripeProvider } from '../../src/providers/stripe';
import type { Service } from '../../src/service';
import {
  busClient,
  createOrder,
  eventually,
  leftPending,
  newId,
  newUser,
  sessionCookie,
  startTestService,
  uniqueName,
  type BusClient,
} from '../support/harness';
import { storedMessages } from '../support/nats-monitor';
import { startNatsStreaming, type NatsServer } from '../support/servers';
import { startStripeProxy, type StripeProxy } from '../support/stripe-proxy';

let nats: NatsServer;
let a: Service;
let b: Service;
let peer: BusClient;
let stripe: StripeProxy;
let dbName: string;

beforeAll(async () => {
  nats = await startNatsStreaming();
  stripe = await startStripeProxy(process.env.LOCALSTRIPE_URL as string);
  const db = uniqueName('reconciler');
  dbName = db;
  const env = {
    STRIPE_API_BASE: stripe.url,
    PROVIDER_TIMEOUT_MS: '2000',
    PAYMENTS_RECONCILE_AFTER_MS: '5000',
    PAYMENTS_RECONCILE_INTERVAL_MS: '600000',
  };
  // Two replicas on one database, as in a cluster.
  ({ service: a } = await startTestService({ nats, db, env }));
  ({ service: b } = await startTestService({ nats, db, env }));
  peer = await busClient(nats);
});

afterAll(async () => {
  await peer.close();
  await a.stop();
  await b.stop();
  await stripe.close();
  await nats.stop();
});

/** A payment left pending by a replica that died before charging (it is past its dueAt). */
async function abandonedPayment() {
  const user = newUser();
  const order = await createOrder(peer, a, { userId: user.id, price: 15 });
  const payment = await leftPending(a, { orderId: order.id, userId: user.id, amount: 1500, source: 'pm_card_visa' });
  return { order, payment };
}

/**
 * The store of a replica that stops right after it records a change: what it records
 * is in the database, and nothing it would do next (events, the stored copy) happens.
 */
async function stoppingReplica(
  clock: Clock = { now: () => new Date() },
): Promise<{ db: Db; payments: ReturnType<typeof createPaymentStore> }> {
  const log = createLogger({ level: 'silent' });
  const db = await connectDb(`${process.env.TEST_MONGO_URI}/${dbName}`, log, 10000);
  const never = new Promise<void>(() => undefined);
  const payments = createPaymentStore(db.connection, { consequences: { dispatch: () => never }, clock, log });
  return { db, payments };
}

/** One pass of the reconciler over a replica's payments, as its interval runs it (no sweepers). */
function reconcilerPass(payments: Payments, clock: Clock) {
  const provider = createStripeProvider({ key: 'sk_test_payments', apiBase: stripe.url, timeoutMs: 2000 });
  const settle = createSettle({ payments, provider, clock });
  return createReconcile({ payments, settle, clock, minRetryMs: 1000, refundIfCancelled: async () => false })();
}

const eventsOf = async (orderId: string) =>
  ((await storedMessages(nats, 'payment:created')) as { orderId: string }[]).filter((e) => e.orderId === orderId);

describe('the reconciler', () => {
  test('two replicas racing over the same pending payments settle each exactly once', async () => {
    const abandoned = await Promise.all(Array.from({ length: 6 }, () => abandonedPayment()));
    const before = stripe.chargesMade().length;

    await Promise.all([a.reconciler.runOnce(), b.reconciler.runOnce()]);
    // A replica whose ask collided with the other's at the provider settles on its next pass.
    for (const { payment } of abandoned) await a.stores.payments.postpone(payment.id, new Date(0));
    await Promise.all([a.reconciler.runOnce(), b.reconciler.runOnce()]);

    for (const { order, payment } of abandoned) {
      const settled = await a.stores.payments.load(payment.id);
      expect(settled?.status).toBe('succeeded');
      expect(settled?.history.map((h) => h.status)).toEqual(['pending', 'succeeded']);
      expect(await a.stores.payments.changes(payment.id)).toHaveLength(1);
      await eventually(async () => (await eventsOf(order.id)).length > 0);
    }
    expect(stripe.chargesMade().length - before).toBe(abandoned.length);
    await eventually(async () => (await a.outbox.backlog()) === 0);
    for (const { order } of abandoned) expect(await eventsOf(order.id)).toHaveLength(1);
    // Settled, they are no longer listed: a pass costs what is unsettled, not what is stored.
    await a.stores.payments.idle();
    const ids = new Set(abandoned.map(({ payment }) => payment.id));
    expect((await a.stores.payments.unsettled(1000)).filter((u) => ids.has(u.paymentId))).toEqual([]);
  });

  test('a refund recorded by a replica that stopped right after is settled by another', async () => {
    const { payment } = await abandonedPayment();
    await a.reconciler.runOnce();
    const paid = await a.stores.payments.load(payment.id);
    expect(paid?.status).toBe('succeeded');

    const stopping = await stoppingReplica();
    try {
      const at = new Date(Date.now() - 60_000);
      const refundId = refundIdFor(payment.id, paid!.version + 1);
      const change = requestRefund(paid!, { refundId, reason: 'requested_by_customer', at, dueAt: at, amount: 500 });
      expect(await stopping.payments.record(change, apply(paid!, change))).toBe(true);

      await b.reconciler.runOnce();
      const settled = await b.stores.payments.load(payment.id);
      expect(settled).toMatchObject({ status: 'partially_refunded', amountRefunded: 500, dueAt: null });
      expect(stripe.refundsMade().filter((r) => r.body.includes(refundId))).toHaveLength(1);
    } finally {
      await stopping.db.close();
    }
  });

  test('a refund that the reconciler of a replica that stopped right after settled is published by another at its next pass', async () => {
    const { payment } = await abandonedPayment();
    await a.reconciler.runOnce();
    const paid = await a.stores.payments.load(payment.id);
    const at = new Date(Date.now() - 60_000);
    const refundId = refundIdFor(payment.id, paid!.version + 1);
    const asked = requestRefund(paid!, { refundId, reason: 'requested_by_customer', at, dueAt: at, amount: 500 });
    expect(await a.stores.payments.record(asked, apply(paid!, asked))).toBe(true);
    await a.stores.payments.idle();

    // Its reconciler settles the refund, records it, and stops before publishing it.
    const clock = { now: () => new Date(Date.now() - 30_000) };
    const stopping = await stoppingReplica(clock);
    try {
      await reconcilerPass(stopping.payments, clock);
      await stopping.payments.due.flush();
      expect(await stopping.payments.changes(payment.id)).toHaveLength(asked.version + 1);

      // Another replica's next pass, as its interval runs it: without the hourly check of the list.
      await reconcilerPass(b.stores.payments, { now: () => new Date() });
      await b.stores.payments.idle();
      await eventually(async () => (await b.outbox.backlog()) === 0);
      const published = (await storedMessages(nats, 'payment:refunded')) as { paymentId: string }[];
      expect(published.filter((e) => e.paymentId === payment.id)).toEqual([
        expect.objectContaining({ amount: 500, amountRefunded: 500 }),
      ]);
    } finally {
      await stopping.db.close();
    }
  });

  test('a charge recorded by a replica that stopped right after, refunded by another within seconds: both events are published, in order', async () => {
    const { order, payment } = await abandonedPayment();
    const stopping = await stoppingReplica();
    try {
      const provider = createStripeProvider({ key: 'sk_test_payments', apiBase: stripe.url, timeoutMs: 2000 });
      const charged = await createSettle({
        payments: stopping.payments,
        provider,
        clock: { now: () => new Date() },
      }).settle(await stopping.payments.load(payment.id).then((p) => p!));
      expect(charged.status).toBe('succeeded');

      // At once, before the stopped writer's grace is over: another replica refunds part of it.
      const refunded = await request(b.app)
        .post(`/api/payments/${payment.id}/refunds`)
        .set('Cookie', sessionCookie(newUser('admin')))
        .send({ amount: 500 });
      expect(refunded.status).toBe(201);
      const published = async (subject: string) =>
        ((await storedMessages(nats, subject)) as { id?: string; paymentId?: string; orderId?: string }[]).filter(
          (e) => e.paymentId === payment.id || e.id === payment.id,
        );
      await eventually(async () => (await published('payment:refunded')).length > 0, 20_000);
      // The reconciler's next pass, too, as its interval runs it.
      await b.stores.payments.postpone(payment.id, new Date(0));
      await b.reconciler.runOnce();
      await b.stores.payments.idle();
      await eventually(async () => (await b.outbox.backlog()) === 0);

      expect(await eventsOf(order.id)).toHaveLength(1);
      expect(await published('payment:refunded')).toHaveLength(1);
    } finally {
      await stopping.db.close();
    }
  }, 40_000);

  test('a change that leaves nothing pending (a dispute), recorded by a replica that stopped right after, is published by another', async () => {
    const { payment } = await abandonedPayment();
    await a.reconciler.runOnce();
    const paid = await a.stores.payments.load(payment.id);
    expect(paid?.status).toBe('succeeded');
    // Settled: nothing of it is listed any more.
    await a.stores.payments.idle();
    expect((await a.stores.payments.unsettled(1000)).filter((u) => u.paymentId === payment.id)).toEqual([]);

    const stopping = await stoppingReplica();
    try {
      const at = new Date(Date.now() - 60_000);
      const dispute = { id: uniqueName('dp'), amount: 1500, reason: 'fraudulent' };
      const change = markDisputed(paid!, dispute, at);
      expect(await stopping.payments.record(change, apply(paid!, change))).toBe(true);

      await b.reconciler.runOnce();
      await b.stores.payments.idle();
      await eventually(async () => (await b.outbox.backlog()) === 0);
      const published = (await storedMessages(nats, 'payment:disputed')) as { id: string; disputeId: string }[];
      expect(published.filter((e) => e.id === payment.id)).toEqual([
        expect.objectContaining({ disputeId: dispute.id, amount: 1500 }),
      ]);
      // Published, it is no longer listed.
      expect((await b.stores.payments.unsettled(1000)).filter((u) => u.paymentId === payment.id)).toEqual([]);
    } finally {
      await stopping.db.close();
    }
  });

  test('a payment that a request started and settled after the cancel of its order was handled is refunded at the look the cancel asked for', async () => {
    const user = newUser();
    const order = await createOrder(peer, a, { userId: user.id, price: 15 });
    const id = paymentIdFor(order.id, 0);
    await peer.publish('order:cancelled', { id: order.id, version: 1, ticket: { id: order.ticket.id } });
    await eventually(async () => (await a.stores.payments.unsettled(1000)).some((u) => u.paymentId === id));
    expect((await a.stores.orders.get(order.id))?.status).toBe('cancelled');

    // A request that read the order before the cancel: it starts the payment and charges it.
    const started = await leftPending(a, {
      orderId: order.id,
      userId: user.id,
      amount: 1500,
      source: 'pm_card_visa',
      at: new Date(),
    });
    const provider = createStripeProvider({ key: 'sk_test_payments', apiBase: stripe.url, timeoutMs: 2000 });
    const settle = createSettle({ payments: a.stores.payments, provider, clock: { now: () => new Date() } });
    expect((await settle.settle(started)).status).toBe('succeeded');
    await a.stores.payments.idle();

    await a.stores.payments.postpone(id, new Date(0));
    await b.reconciler.runOnce();
    const refunded = await b.stores.payments.load(id);
    expect(refunded).toMatchObject({ status: 'refunded', amountRefunded: 1500 });
    expect(refunded?.refunds).toEqual([expect.objectContaining({ reason: 'order_cancelled', status: 'succeeded' })]);
    expect(stripe.refundsMade().filter((r) => r.body.includes(refunded!.refunds[0]!.id))).toHaveLength(1);
  });

  test('a pending payment the list lacks (stored by the version before, its entry not written) is found by the check and settled', async () => {
    const { payment } = await abandonedPayment();
    // Where the version before the pending payments stored it: in the payments, pending.
    const pending = a.db.native.collection('payments_pending');
    const doc = await pending.findOne({ _id: new Types.ObjectId(payment.id) });
    await a.db.native.collection('payments').insertOne(doc!);
    await pending.deleteOne({ _id: doc!._id });
    await b.reconciler.runOnce();
    expect(await b.stores.payments.load(payment.id)).toMatchObject({ status: 'succeeded', dueAt: null });
  });

  test('an entry whose payment was never stored (its start failed after writing it) goes at the first look', async () => {
    const id = newId();
    const at = new Date(Date.now() - 60_000);
    const entry = { _id: `${id}:0`, paymentId: new Types.ObjectId(id), version: 0, dueAt: at, since: at };
    await a.db.native.collection('payments_due').insertOne(entry as never);
    await a.reconciler.runOnce();
    await a.stores.payments.idle();
    expect((await a.stores.payments.unsettled(1000)).filter((u) => u.paymentId === id)).toEqual([]);
    expect(await a.stores.payments.load(id)).toBeNull();
  });

  test('a payment already charged is settled by asking under its original key, not charged again', async () => {
    const { payment } = await abandonedPayment();
    // The dead replica's charge reached the provider before it died.
    const provider = createStripeProvider({ key: 'sk_test_payments', apiBase: stripe.url, timeoutMs: 2000 });
    const { chargeId } = await provider.charge({
      amount: 1500,
      currency: 'usd',
      source: 'pm_card_visa',
      idempotencyKey: `payment-${payment.id}`,
      description: `Order ${payment.orderId}`,
      metadata: { paymentId: payment.id, orderId: payment.orderId as string },
    });
    const made = stripe.chargesMade().length;
    await b.reconciler.runOnce();
    expect(await b.stores.payments.load(payment.id)).toMatchObject({ status: 'succeeded', chargeId });
    expect(stripe.chargesMade().length).toBe(made);
  });

  test('while the provider is away, a payment is asked about again after a growing wait, not at every pass', async () => {
    const { payment } = await abandonedPayment();
    stripe.failNext(100, 500);
    try {
      await a.reconciler.runOnce();
      const asked = stripe.chargeAttempts().filter((c) => c.body.includes(payment.id)).length;
      expect(asked).toBeGreaterThan(0);
      expect((await a.stores.payments.load(payment.id))?.status).toBe('pending');
      const listed = (await a.stores.payments.unsettled(1000)).filter((u) => u.paymentId === payment.id);
      // At least the reconcile interval, and about half the payment's age.
      expect(listed.map((u) => u.dueAt.getTime() > Date.now() + 25_000)).toEqual([true]);
      await a.reconciler.runOnce();
      expect(stripe.chargeAttempts().filter((c) => c.body.includes(payment.id))).toHaveLength(asked);
    } finally {
      stripe.failNext(0);
    }
  });
});
