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

let nats: NatsServer;
let service: Service;
let peer: BusClient;

beforeAll(async () => {
  nats = await startNatsStreaming();
  ({ service } = await startTestService({
    nats,
    db: uniqueName('simulator'),
    env: { PAYMENT_PROVIDER: 'simulator', STRIPE_KEY: '', STRIPE_API_BASE: '' },
  }));
  peer = await busClient(nats, ['payment:created', 'payment:failed']);
});

afterAll(async () => {
  await peer.close();
  await service.stop();
  await nats.stop();
});

describe('PAYMENT_PROVIDER=simulator', () => {
  test('tok_visa succeeds and tok_chargeDeclined is declined, deterministically', async () => {
    const user = newUser();
    const declinedOrder = await createOrder(peer, service, { userId: user.id });
    const declined = await request(service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'tok_chargeDeclined', orderId: declinedOrder.id });
    expect(declined.status).toBe(402);
    await peer.waitFor((e) => e.subject === 'payment:failed' && e.data.orderId === declinedOrder.id);

    const paid = await request(service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'tok_visa', orderId: declinedOrder.id });
    expect(paid.status).toBe(201);
    expect(paid.body.stripeId).toMatch(/^ch_sim_/);
    await peer.waitFor((e) => e.subject === 'payment:created' && e.data.orderId === declinedOrder.id);
  });

  test('an unknown token is refused with 400 on the token field', async () => {
    const user = newUser();
    const order = await createOrder(peer, service, { userId: user.id });
    const res = await request(service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'tok_nonsense', orderId: order.id });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ field: 'token', code: 'payment_rejected' });
  });
});
