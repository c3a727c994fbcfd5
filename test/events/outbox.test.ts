import request from 'supertest';
import type { Service } from '../../src/service';
import {
  busClient,
  createOrder,
  eventually,
  newUser,
  sessionCookie,
  startTestService,
  uniqueName,
  type BusClient,
} from '../support/harness';
import { startNatsStreaming, type NatsServer } from '../support/servers';

let nats: NatsServer;
let service: Service;

beforeAll(async () => {
  nats = await startNatsStreaming({ fileStore: true });
  ({ service } = await startTestService({ nats, db: uniqueName('outbox') }));
});

afterAll(async () => {
  await service.stop();
  await nats.stop();
});

describe('the outbox', () => {
  test('with NATS Streaming stopped, payments succeed and their events go out once it is back', async () => {
    let peer: BusClient = await busClient(nats);
    const user = newUser();
    const order = await createOrder(peer, service, { userId: user.id });
    await peer.close();

    await nats.stop();
    await eventually(async () => !service.bus.isConnected());
    const health = await request(service.app).get('/api/payments/health');
    expect(health.status).toBe(503);
    expect(health.body.dependencies).toEqual({ mongo: 'up', nats: 'down' });

    const res = await request(service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'tok_visa', orderId: order.id });
    expect(res.status).toBe(201);
    await service.relay.kick();
    expect(await service.stores.payments.outboxBacklog()).toBe(1);

    await nats.start();
    await eventually(async () => service.bus.isConnected(), 20000);
    peer = await busClient(nats, ['payment:created']);
    try {
      const [event] = await peer.waitFor((e) => e.data.orderId === order.id, 1, 20000);
      expect(event?.data).toMatchObject({ id: res.body.id, orderId: order.id, stripeId: res.body.stripeId });
      expect(event?.data.eventId).toEqual(expect.any(String));
      expect((await request(service.app).get('/api/payments/health')).status).toBe(200);
      await eventually(async () => (await service.stores.payments.outboxBacklog()) === 0);
    } finally {
      await peer.close();
    }
  });

  test('the event is written in the same document write as the state change', async () => {
    const peer = await busClient(nats);
    const user = newUser();
    const order = await createOrder(peer, service, { userId: user.id });
    await peer.close();
    const res = await request(service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'tok_visa', orderId: order.id });
    const doc = await service.stores.payments.model.findById(res.body.id).lean();
    expect(doc?.events).toEqual([
      expect.objectContaining({ subject: 'payment:created', data: expect.objectContaining({ id: res.body.id }) }),
    ]);
    expect(doc?.history.map((h) => h.status)).toEqual(['pending', 'succeeded']);
  });
});
