import request from 'supertest';
import {
  busClient,
  eventually,
  newId,
  newUser,
  sessionCookie,
  startTestService,
  uniqueName,
  useStack,
} from '../support/harness';
import { unacked } from '../support/nats-monitor';
import { startNatsStreaming, testBus } from '../support/servers';

// Many deliveries allowed, little age: the age bound is the one that parks.
const stack = useStack({
  name: 'parking',
  env: { NATS_ACK_WAIT_MS: '1000', EVENT_MAX_DELIVERIES: '1000', EVENT_MAX_AGE_MS: '2500' },
});

describe('EVENT_MAX_AGE_MS', () => {
  test('a message retried longer than its age bound is parked and acked, whatever its deliveries', async () => {
    const orderId = newId();
    const started = Date.now();
    await stack.peer.publish('order:cancelled', { id: orderId, version: 1 });
    const parked = await eventually(async () => {
      const all = await stack.service.stores.deadLetters.list();
      return all.find((d) => d.payload.includes(orderId));
    }, 10_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
    expect(parked).toMatchObject({ subject: 'order:cancelled', reason: expect.stringMatching(/not seen yet/) });
    expect(parked.deliveries).toBeGreaterThanOrEqual(3);
    expect(parked.deliveries).toBeLessThan(10);
    await eventually(async () => (await unacked(stack.nats, 'order:cancelled')) === 0);
  });
});

describe('an order that arrives after an event about it was parked', () => {
  const parkedAbout = (orderId: string) =>
    eventually(async () => (await stack.service.stores.deadLetters.list()).find((d) => d.payload.includes(orderId)));
  const arrives = async (orderId: string, userId: string) => {
    await stack.peer.publish('order:created', {
      id: orderId,
      version: 0,
      status: 'created',
      userId,
      expiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
      ticket: { id: newId(), price: 20 },
    });
    await eventually(async () => (await stack.service.stores.orders.get(orderId))?.userId === userId);
  };
  const pay = (orderId: string, user: ReturnType<typeof newUser>) =>
    request(stack.service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'tok_visa', orderId });

  // Seen on NATS Streaming, where a retry comes back every ack wait: a replay with a long backlog of
  // order:created parks the cancels of orders it has not reached yet, and those orders then came payable.
  test('after its cancel: it arrives cancelled, and is not charged', async () => {
    const user = newUser();
    const orderId = newId();
    await stack.peer.publish('order:cancelled', { id: orderId, version: 1 });
    await parkedAbout(orderId);
    await arrives(orderId, user.id);
    const res = await pay(orderId, user);
    expect({ status: res.status, code: res.body.errors?.[0]?.code }).toEqual({ status: 400, code: 'order_cancelled' });
    expect(await stack.service.stores.orders.get(orderId)).toMatchObject({ status: 'cancelled', amount: 2000 });
  });

  test("after another payments service's payment:created for it: it arrives paid by that payment", async () => {
    const user = newUser();
    const orderId = newId();
    await stack.peer.publish('payment:created', { id: 'elsewhere-1', orderId, stripeId: 'ch_elsewhere' });
    await parkedAbout(orderId);
    await arrives(orderId, user.id);
    const res = await pay(orderId, user);
    expect({ status: res.status, code: res.body.errors?.[0]?.code }).toEqual({
      status: 409,
      code: 'order_already_paid',
    });
  });
});

describe('dead letters', () => {
  // Only NATS Streaming with a memory store numbers a channel from 1 again after a restart.
  const onStan = testBus() === 'stan' ? test : test.skip;

  onStan(
    'a message parked after a memory store restarted takes the place of no older letter, though its sequence is the same',
    async () => {
      const nats = await startNatsStreaming();
      const { service } = await startTestService({ nats, db: uniqueName('parking_restart') });
      const parkedPayloads = async () =>
        (await service.stores.deadLetters.list()).filter((d) => d.subject === 'order:created').map((d) => d.payload);
      try {
        let peer = await busClient(nats);
        await peer.publish('order:created', '{before the restart');
        await eventually(async () => (await parkedPayloads()).length === 1);
        await peer.close();

        await nats.stop();
        await nats.start();
        await eventually(async () => service.bus.isConnected(), 20_000);
        peer = await busClient(nats);
        try {
          // First on the channel again: the same place on the bus as the letter parked before.
          await peer.publish('order:created', '{after the restart');
          await eventually(async () => (await parkedPayloads()).length === 2, 15_000);
          expect((await parkedPayloads()).sort()).toEqual(['{after the restart', '{before the restart']);
        } finally {
          await peer.close();
        }
      } finally {
        await service.stop();
        await nats.stop();
      }
    },
    60_000,
  );
});
