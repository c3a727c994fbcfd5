import { createStripeProvider } from '../../src/providers/stripe';
import type { Service } from '../../src/service';
import { busClient, createOrder, newUser, startTestService, uniqueName, type BusClient } from '../support/harness';
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
  const env = { STRIPE_API_BASE: stripe.url, PROVIDER_TIMEOUT_MS: '2000', PAYMENTS_RECONCILE_AFTER_MS: '5000' };
  // Two replicas on one database, as in a cluster.
  ({ service: a } = await startTestService({ nats, db, env }));
  ({ service: b } = await startTestService({ nats, db, env }));
  peer = await busClient(nats, ['payment:created']);
});

afterAll(async () => {
  await peer.close();
  await a.stop();
  await b.stop();
  await stripe.close();
  await nats.stop();
});

/** A payment left pending by a replica that died before charging (its lease has run out). */
async function abandonedPayment() {
  const user = newUser();
  const order = await createOrder(peer, a, { userId: user.id, price: 15 });
  const payment = await a.stores.payments.insertPending(
    { orderId: order.id, userId: user.id, amount: 1500, currency: 'usd', source: 'pm_card_visa', idempotencyKey: null },
    new Date(Date.now() - 60_000),
    new Date(Date.now() - 30_000),
  );
  if (!payment) throw new Error('the order was already held');
  return { order, payment };
}

describe('the reconciler', () => {
  test('two replicas racing over the same pending payments settle each exactly once', async () => {
    const abandoned = await Promise.all(Array.from({ length: 6 }, () => abandonedPayment()));
    const before = stripe.chargesMade().length;

    await Promise.all([a.reconciler.runOnce(), b.reconciler.runOnce(), a.reconciler.runOnce()]);

    for (const { order, payment } of abandoned) {
      const settled = await a.stores.payments.findById(payment.id);
      expect(settled?.status).toBe('succeeded');
      expect(settled?.history.map((h) => h.status)).toEqual(['pending', 'succeeded']);
      const doc = await a.stores.payments.model.findById(payment.id).lean();
      expect(doc?.events).toHaveLength(1);
      await peer.waitFor((e) => e.data.orderId === order.id);
    }
    expect(stripe.chargesMade().length - before).toBe(abandoned.length);
    await a.relay.kick();
    await b.relay.kick();
    for (const { order } of abandoned) {
      expect(peer.received.filter((e) => e.data.orderId === order.id)).toHaveLength(1);
    }
  });

  test('a payment already charged is settled by looking the charge up under its original key, not charged again', async () => {
    const { payment } = await abandonedPayment();
    // The dead replica's charge reached the provider before it died.
    const provider = createStripeProvider({ key: 'sk_test_payments', apiBase: stripe.url, timeoutMs: 2000 });
    const { chargeId } = await provider.charge({
      amount: 1500,
      currency: 'usd',
      source: 'pm_card_visa',
      idempotencyKey: `payment-${payment.id}`,
      description: `Order ${payment.orderId}`,
      metadata: { paymentId: payment.id, orderId: payment.orderId },
    });
    const made = stripe.chargesMade().length;
    await b.reconciler.runOnce();
    const settled = await b.stores.payments.findById(payment.id);
    expect(settled).toMatchObject({ status: 'succeeded', stripeId: chargeId });
    expect(stripe.chargesMade().length).toBe(made);
  });

  test('a lease is exclusive: of two reconcilers asking at once, one gets each payment', async () => {
    const { payment } = await abandonedPayment();
    const now = new Date();
    const until = new Date(now.getTime() + 5000);
    const leases = await Promise.all([
      a.stores.payments.leaseStale(now, until),
      b.stores.payments.leaseStale(now, until),
    ]);
    expect(leases.filter((l) => l?.id === payment.id)).toHaveLength(1);
  });
});
