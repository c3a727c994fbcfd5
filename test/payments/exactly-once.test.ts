import request from 'supertest';
import type { Service } from '../../src/service';
import {
  busClient,
  createOrder,
  newUser,
  sessionCookie,
  startTestService,
  uniqueName,
  type BusClient,
} from '../support/harness';
import { startNatsStreaming, type NatsServer } from '../support/servers';
import { startStripeProxy, type StripeProxy } from '../support/stripe-proxy';

let nats: NatsServer;
let service: Service;
let peer: BusClient;
let stripe: StripeProxy;

beforeAll(async () => {
  nats = await startNatsStreaming();
  stripe = await startStripeProxy(process.env.STRIPE_MOCK_URL as string);
  ({ service } = await startTestService({
    nats,
    db: uniqueName('exactly_once'),
    env: { STRIPE_API_BASE: stripe.url },
  }));
  peer = await busClient(nats, ['payment:created']);
});

afterAll(async () => {
  await peer.close();
  await service.stop();
  await stripe.close();
  await nats.stop();
});

describe('exactly one charge per order', () => {
  test('twenty concurrent POSTs for one order: one charge, one 201, one payment:created, clear 4xx for the rest', async () => {
    const user = newUser();
    const cookie = sessionCookie(user);
    const order = await createOrder(peer, service, { userId: user.id, price: 49.99 });
    const before = stripe.chargesMade().length;

    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const req = request(service.app).post('/api/payments').set('Cookie', cookie);
        // A third with no key, the rest each with a key of its own.
        return (i % 3 === 0 ? req : req.set('Idempotency-Key', uniqueName(`k${i}`))).send({
          token: 'tok_visa',
          orderId: order.id,
        });
      }),
    );

    const created = responses.filter((r) => r.status === 201);
    expect(created).toHaveLength(1);
    const refused = responses.filter((r) => r.status !== 201);
    for (const r of refused) {
      expect(r.status).toBe(409);
      expect(r.body.errors[0].code).toBe('order_already_paid');
    }
    expect(stripe.chargesMade().length - before).toBe(1);

    const payments = await service.stores.payments.model.find({ orderId: order.id }).lean();
    expect(payments).toHaveLength(1);
    expect(payments[0]?.status).toBe('succeeded');
    expect(payments[0]?.amount).toBe(4999);

    await peer.waitFor((e) => e.data.orderId === order.id);
    await service.relay.kick();
    expect(await service.stores.payments.outboxBacklog()).toBe(0);
    expect(peer.received.filter((e) => e.data.orderId === order.id)).toHaveLength(1);
  });
});
