import { createStripeProvider } from '../../src/providers/stripe';
import type { Service } from '../../src/service';
import {
  busClient,
  createOrder,
  eventually,
  leftPending,
  newUser,
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

beforeAll(async () => {
  nats = await startNatsStreaming();
  stripe = await startStripeProxy(process.env.LOCALSTRIPE_URL as string);
  const db = uniqueName('reconciler');
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
      const after = await a.stores.payments.load(payment.id);
      expect(after?.status).toBe('pending');
      // At least the reconcile interval, and about half the payment's age.
      expect(after!.dueAt!.getTime()).toBeGreaterThan(Date.now() + 25_000);
      await a.reconciler.runOnce();
      expect(stripe.chargeAttempts().filter((c) => c.body.includes(payment.id))).toHaveLength(asked);
    } finally {
      stripe.failNext(0);
    }
  });
});
