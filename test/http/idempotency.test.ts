import request from 'supertest';
import { createOrder, eventually, newUser, paymentsOf, sessionCookie, uniqueName, useStack } from '../support/harness';
import { storedMessages } from '../support/nats-monitor';

// The service's clock, moved forward by tests that need a key to expire.
let offsetMs = 0;

const stack = useStack({
  name: 'idempotency',
  subjects: ['payment:created'],
  proxyTo: 'stripe-mock',
  clock: { now: () => new Date(Date.now() + offsetMs) },
});

const pay = (cookie: string, key: string | undefined, body: object) => {
  const req = request(stack.service.app).post('/api/payments').set('Cookie', cookie);
  return (key === undefined ? req : req.set('Idempotency-Key', key)).send(body);
};

async function paidOrder() {
  const user = newUser();
  const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 12.5 });
  return { user, cookie: sessionCookie(user), order };
}

describe('Idempotency-Key on POST /api/payments', () => {
  test('the same key and body replay the first response; nothing is charged or published again', async () => {
    const { cookie, order } = await paidOrder();
    const key = uniqueName('key');
    const first = await pay(cookie, key, { token: 'tok_visa', orderId: order.id });
    expect(first.status).toBe(201);
    const again = await pay(cookie, key, { orderId: order.id, token: 'tok_visa' });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');

    expect(stack.stripe.chargesMade().filter((c) => c.body.includes(first.body.id))).toHaveLength(1);
    expect(await paymentsOf(stack.service, order.id)).toHaveLength(1);
    await eventually(async () => (await stack.service.outbox.backlog()) === 0);
    const stored = (await storedMessages(stack.nats, 'payment:created')) as { orderId: string }[];
    expect(stored.filter((e) => e.orderId === order.id)).toHaveLength(1);
  });

  test('an error answer is replayed too, without running the request again', async () => {
    const { cookie, order } = await paidOrder();
    const other = newUser();
    const key = uniqueName('key');
    const first = await pay(sessionCookie(other), key, { token: 'tok_visa', orderId: order.id });
    expect(first.status).toBe(401);
    const again = await pay(sessionCookie(other), key, { token: 'tok_visa', orderId: order.id });
    expect(again.status).toBe(401);
    expect(again.headers['idempotent-replayed']).toBe('true');
    // Keys belong to a user: the owner's identical key is a new request.
    expect((await pay(cookie, key, { token: 'tok_visa', orderId: order.id })).status).toBe(201);
  });

  test('the same key with a different body answers 422', async () => {
    const { cookie, order } = await paidOrder();
    const key = uniqueName('key');
    expect((await pay(cookie, key, { token: 'tok_visa', orderId: order.id })).status).toBe(201);
    const res = await pay(cookie, key, { token: 'tok_mastercard', orderId: order.id });
    expect(res.status).toBe(422);
    expect(res.body.errors[0].code).toBe('idempotency_key_reused');
  });

  test('a key whose first request is still in flight answers 409, and the first one completes', async () => {
    const { cookie, order } = await paidOrder();
    const key = uniqueName('key');
    const release = stack.stripe.hold();
    const before = stack.stripe.chargeAttempts().length;
    const first = pay(cookie, key, { token: 'tok_visa', orderId: order.id }).then((r) => r);
    await stack.stripe.chargeArrived(before + 1);
    const second = await pay(cookie, key, { token: 'tok_visa', orderId: order.id });
    expect(second.status).toBe(409);
    expect(second.body.errors[0].code).toBe('idempotency_key_in_use');
    release();
    expect((await first).status).toBe(201);
    expect((await pay(cookie, key, { token: 'tok_visa', orderId: order.id })).status).toBe(201);
  });

  test('refuses a key longer than 255 characters with 400, and accepts one of 255', async () => {
    const { cookie, order } = await paidOrder();
    const long = await pay(cookie, 'k'.repeat(256), { token: 'tok_visa', orderId: order.id });
    expect(long.status).toBe(400);
    expect(long.body.errors[0].field).toBe('Idempotency-Key');
    expect((await pay(cookie, 'k'.repeat(255), { token: 'tok_visa', orderId: order.id })).status).toBe(201);
  });

  test('keys expire after IDEMPOTENCY_KEY_TTL_MS (24 h) and are swept without a TTL index', async () => {
    const { cookie, order } = await paidOrder();
    const key = uniqueName('key');
    expect((await pay(cookie, key, { token: 'tok_visa', orderId: order.id })).status).toBe(201);
    offsetMs = 24 * 60 * 60 * 1000 - 60_000;
    expect((await pay(cookie, key, { token: 'tok_other', orderId: order.id })).status).toBe(422);
    offsetMs = 24 * 60 * 60 * 1000 + 1000;
    try {
      // Past its expiry the key is free: this is a new request, refused because the order is paid.
      const reused = await pay(cookie, key, { token: 'tok_other', orderId: order.id });
      expect(reused.status).toBe(409);
      expect(reused.body.errors[0].code).toBe('order_already_paid');

      expect(await stack.service.stores.idempotency.count()).toBeGreaterThan(0);
      offsetMs = 3 * 24 * 60 * 60 * 1000;
      await stack.service.reconciler.runOnce();
      expect(await stack.service.stores.idempotency.count()).toBe(0);
    } finally {
      offsetMs = 0;
    }
  });
});
