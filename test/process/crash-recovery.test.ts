import request from 'supertest';
import {
  busClient,
  eventually,
  newId,
  newUser,
  sessionCookie,
  testEnv,
  uniqueName,
  type BusClient,
} from '../support/harness';
import { spawnService } from '../support/process';
import { startBusServer, type BusServer } from '../support/servers';
import { startStripeProxy, type StripeProxy } from '../support/stripe-proxy';
import { readDb, type DbReader } from '../support/db-reader';
import { storedMessages } from '../support/nats-monitor';

let reader: DbReader | undefined;
let stripe: StripeProxy;

beforeAll(async () => {
  stripe = await startStripeProxy(process.env.LOCALSTRIPE_URL as string);
});

afterAll(async () => {
  await stripe.close();
});

async function openDb(db: string) {
  reader = await readDb(db);
  return reader;
}

async function publishOrder(peer: BusClient, userId: string, stores: DbReader) {
  const order = {
    id: newId(),
    version: 0,
    status: 'created',
    userId,
    expiresAt: new Date().toISOString(),
    ticket: { id: newId(), price: 25 },
  };
  await peer.publish('order:created', order);
  await eventually(() => stores.order(order.id));
  return order;
}

describe('a service killed mid-payment', () => {
  let nats: BusServer;
  let peer: BusClient;

  beforeEach(async () => {
    nats = await startBusServer({ fileStore: true });
    peer = await busClient(nats, ['payment:created']);
  });

  afterEach(async () => {
    await peer?.close().catch(() => undefined);
    await reader?.close();
    reader = undefined;
    await nats?.stop();
  });

  test('SIGKILL while the provider is charging: after restart, one charge, one succeeded payment, one event', async () => {
    const db = uniqueName('crash_charge');
    const stores = await openDb(db);
    const env = testEnv(nats, db, {
      STRIPE_API_BASE: stripe.url,
      PROVIDER_TIMEOUT_MS: '2000',
      PAYMENTS_RECONCILE_AFTER_MS: '5000',
      PAYMENTS_RECONCILE_INTERVAL_MS: '300',
    });
    const first = await spawnService(env);
    await first.ready();
    const user = newUser();
    const order = await publishOrder(peer, user.id, stores);

    const release = stripe.hold();
    const attempts = stripe.chargeAttempts().length;
    const made = stripe.chargesMade().length;
    const inFlight = request(first.url)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'pm_card_visa', orderId: order.id })
      .then(
        () => 'answered',
        () => 'cut off',
      );
    await stripe.chargeArrived(attempts + 1);
    expect((await first.kill('SIGKILL')).signal).toBe('SIGKILL');
    expect(await inFlight).toBe('cut off');
    // The provider completes the charge the dead process asked for.
    release();
    await eventually(async () => stripe.chargesMade().length === made + 1);
    const [pending] = await stores.payments(order.id);
    expect(pending?.status).toBe('pending');

    const second = await spawnService(env);
    try {
      await second.ready();
      const settled = await eventually(async () => {
        const [p] = await stores.payments(order.id);
        return p?.status === 'succeeded' && p;
      }, 20000);
      const [event] = await peer.waitFor((e) => e.data.orderId === order.id);
      expect(event?.data).toMatchObject({ id: String(settled._id), stripeId: settled.chargeId });
      expect(stripe.chargesMade().length).toBe(made + 1);
      expect(await stores.payments(order.id)).toHaveLength(1);
      await eventually(async () => (await stores.backlog()) === 0);
      const stored = (await storedMessages(nats, 'payment:created')) as { orderId: string }[];
      expect(stored.filter((e) => e.orderId === order.id)).toHaveLength(1);
    } finally {
      await second.kill('SIGTERM');
    }
  });

  test('a client retrying with its Idempotency-Key after the crash gets its own payment, 201, never 409', async () => {
    const db = uniqueName('crash_retry');
    const stores = await openDb(db);
    const env = testEnv(nats, db, {
      STRIPE_API_BASE: stripe.url,
      PROVIDER_TIMEOUT_MS: '2000',
      PAYMENTS_RECONCILE_AFTER_MS: '5000',
      PAYMENTS_RECONCILE_INTERVAL_MS: '300',
    });
    const first = await spawnService(env);
    await first.ready();
    const user = newUser();
    const order = await publishOrder(peer, user.id, stores);
    const key = uniqueName('retry');
    const pay = (url: string) =>
      request(url)
        .post('/api/payments')
        .set('Cookie', sessionCookie(user))
        .set('Idempotency-Key', key)
        .send({ token: 'pm_card_visa', orderId: order.id });

    const release = stripe.hold();
    const attempts = stripe.chargeAttempts().length;
    const made = stripe.chargesMade().length;
    const cut = pay(first.url).then(
      () => 'answered',
      () => 'cut off',
    );
    await stripe.chargeArrived(attempts + 1);
    await first.kill('SIGKILL');
    expect(await cut).toBe('cut off');
    release();

    const second = await spawnService(env);
    try {
      await second.ready();
      // While the dead request's key is still held, the answer is 409 idempotency_key_in_use; then its own payment.
      const res = await eventually(async () => {
        const r = await pay(second.url);
        return !(r.status === 409 && r.body.errors[0].code === 'idempotency_key_in_use') && r;
      }, 20_000);
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ orderId: order.id, status: 'succeeded', amount: 2500 });
      expect(stripe.chargesMade().length).toBe(made + 1);
      // And the answer kept for the key is that 201.
      const again = await pay(second.url);
      expect(again.status).toBe(201);
      expect(again.body.id).toBe(res.body.id);
    } finally {
      await second.kill('SIGTERM');
    }
  });

  test('SIGKILL with the event stored and not yet published: the event goes out once the service is back', async () => {
    const db = uniqueName('crash_publish');
    const stores = await openDb(db);
    const env = testEnv(nats, db, { STRIPE_API_BASE: process.env.LOCALSTRIPE_URL as string });
    const first = await spawnService(env);
    await first.ready();
    const user = newUser();
    const order = await publishOrder(peer, user.id, stores);
    await peer.close();

    await nats.stop();
    const res = await request(first.url)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'pm_card_visa', orderId: order.id });
    expect(res.status).toBe(201);
    await eventually(async () => (await stores.backlog()) === 2); // payment:created and its notification
    await first.kill('SIGKILL');

    await nats.start();
    const second = await spawnService(env);
    try {
      await second.ready();
      peer = await busClient(nats, ['payment:created']);
      const [event] = await peer.waitFor((e) => e.data.orderId === order.id, 1, 30000);
      expect(event?.data).toMatchObject({ id: res.body.id, stripeId: res.body.stripeId });
      expect(event?.data.eventId).toEqual(expect.any(String));
      await eventually(async () => (await stores.backlog()) === 0);
      const stored = (await storedMessages(nats, 'payment:created')) as { orderId: string }[];
      expect(stored.filter((e) => e.orderId === order.id)).toHaveLength(1);
    } finally {
      await second.kill('SIGTERM');
    }
  });
});
