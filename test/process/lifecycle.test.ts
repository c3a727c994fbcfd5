import request from 'supertest';
import { paymentIdForRequest } from '../../src/domain/payment';
import {
  busClient,
  eventually,
  newId,
  newUser,
  sessionCookie,
  startTestService,
  testEnv,
  uniqueName,
} from '../support/harness';
import { freePort, startBusServer, type BusServer } from '../support/servers';
import { startStripeProxy } from '../support/stripe-proxy';
import { readDb } from '../support/db-reader';
import { spawnService } from '../support/process';

let nats: BusServer;

beforeAll(async () => {
  nats = await startBusServer();
});

afterAll(async () => {
  await nats.stop();
});

describe('the service process', () => {
  test('exits non-zero before listening, naming every bad setting', async () => {
    const proc = await spawnService({ NATS_URL: 'nope' });
    const { code } = await proc.exited;
    expect(code).toBe(1);
    for (const key of ['JWT_KEY', 'MONGO_URI', 'NATS_URL', 'NATS_CLUSTER_ID', 'NATS_CLIENT_ID', 'STRIPE_KEY']) {
      expect(proc.output()).toContain(key);
    }
  });

  test('retries an unreachable MongoDB for BOOT_TIMEOUT_MS, never serves, then exits non-zero', async () => {
    const deadPort = await freePort();
    const env = testEnv(nats, uniqueName('boot'), {
      MONGO_URI: `mongodb://127.0.0.1:${deadPort}/payments`,
      BOOT_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'warn',
    });
    const proc = await spawnService(env);
    const { code } = await proc.exited;
    expect(code).toBe(1);
    expect(proc.output()).toMatch(/MongoDB not reachable yet, retrying/);
    expect(proc.output()).not.toMatch(/listening/);
  });

  test('retries an unreachable bus the same way', async () => {
    const nowhere = await freePort();
    const env = testEnv(nats, uniqueName('boot'), {
      NATS_URL: `nats://127.0.0.1:${nowhere}`,
      KAFKA_BROKERS: `127.0.0.1:${nowhere}`,
      BOOT_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'warn',
    });
    const proc = await spawnService(env);
    expect((await proc.exited).code).toBe(1);
    expect(proc.output()).toMatch(/(NATS Streaming|NATS JetStream|Kafka) not reachable yet/);
  });

  test('on SIGTERM finishes the payment in flight, publishes its event, closes NATS and MongoDB, and exits 0', async () => {
    const stripe = await startStripeProxy(process.env.STRIPE_MOCK_URL as string);
    const peer = await busClient(nats, ['payment:created']);
    const db = uniqueName('sigterm');
    const reader = await readDb(db);
    const proc = await spawnService(testEnv(nats, db, { LOG_LEVEL: 'info', STRIPE_API_BASE: stripe.url }));
    try {
      await proc.ready();
      const user = newUser();
      const orderId = newId();
      await peer.publish('order:created', {
        id: orderId,
        version: 0,
        status: 'created',
        userId: user.id,
        expiresAt: new Date().toISOString(),
        ticket: { id: newId(), price: 5 },
      });
      await eventually(() => reader.order(orderId));

      const release = stripe.hold();
      const inFlight = request(proc.url)
        .post('/api/payments')
        .set('Cookie', sessionCookie(user))
        .send({ token: 'tok_visa', orderId });
      const answered = inFlight.then((r) => r);
      await stripe.chargeArrived(1);
      const exited = proc.kill('SIGTERM');
      await eventually(async () => /shutting down/.test(proc.output()));
      // New connections are refused while the payment in flight finishes.
      await expect(fetch(`${proc.url}/api/payments/health/live`)).rejects.toThrow();
      release();
      expect((await answered).status).toBe(201);
      expect((await exited).code).toBe(0);
      expect(proc.output()).toMatch(/payments service stopped/);
      await peer.waitFor((e) => e.data.orderId === orderId);
    } finally {
      await proc.kill('SIGKILL');
      await reader.close();
      await peer.close();
      await stripe.close();
    }
  });

  test('stopping while a message is handled: its outcome is stored whole before MongoDB closes', async () => {
    const stripe = await startStripeProxy(process.env.STRIPE_MOCK_URL as string);
    const peer = await busClient(nats);
    const db = uniqueName('stop_in_flight');
    const reader = await readDb(db);
    const { service } = await startTestService({ nats, db, env: { STRIPE_API_BASE: stripe.url } });
    try {
      const requestId = uniqueName('req');
      const release = stripe.holdNext();
      await peer.publish('payment:requested', {
        requestId,
        userId: 'u-stop',
        paymentMethod: 'pm_card_visa',
        amount: 500,
        currency: 'usd',
      });
      await eventually(async () => stripe.intentAttempts().some((c) => c.body.includes(requestId)));
      const stopped = service.stop();
      setTimeout(release, 300);
      await stopped;

      // Settled (stripe-mock declines every PaymentIntent) and stored as such, which happens only once its
      // events are sent or kept in the outbox; no longer pending.
      const id = paymentIdForRequest(requestId);
      expect(await reader.payment('payments', id)).toMatchObject({ status: 'failed' });
      expect(await reader.payment('payments_pending', id)).toBeNull();
    } finally {
      await service.stop();
      await reader.close();
      await peer.close();
      await stripe.close();
    }
  });
});
