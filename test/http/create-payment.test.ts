import request from 'supertest';
import {
  createOrder,
  eventually,
  newId,
  newUser,
  paymentsOf,
  sessionCookie,
  signToken,
  useStack,
} from '../support/harness';
import { storedMessages } from '../support/nats-monitor';

const stack = useStack({ name: 'create_payment', subjects: ['payment:created', 'payment:failed'] });

const post = (cookie?: string) => {
  const req = request(stack.service.app).post('/api/payments');
  return cookie ? req.set('Cookie', cookie) : req;
};

describe('POST /api/payments', () => {
  test('refuses a caller without a session with 401, before looking at the body', async () => {
    const res = await post().set('Content-Type', 'application/json').send('{not json');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ errors: [{ message: 'Not authorized', code: 'not_authorized' }] });
  });

  test('refuses tokens signed with another key, unsigned or expired', async () => {
    const user = newUser();
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
      JSON.stringify(user),
    ).toString('base64url')}.`;
    const expired = signToken(user, undefined, { expiresIn: -10 });
    for (const cookie of [
      sessionCookie(user, 'another-key'),
      `session=${Buffer.from(JSON.stringify({ jwt: unsigned })).toString('base64')}`,
      `session=${Buffer.from(JSON.stringify({ jwt: expired })).toString('base64')}`,
    ]) {
      const res = await post(cookie).send({ token: 'tok_visa', orderId: newId() });
      expect(res.status).toBe(401);
    }
  });

  test('accepts a Bearer token as well as the session cookie', async () => {
    const res = await request(stack.service.app)
      .post('/api/payments')
      .set('Authorization', `Bearer ${signToken(newUser())}`)
      .send({ token: 'tok_visa', orderId: newId() });
    expect(res.status).toBe(404);
  });

  test('answers 400 with one error per field for a missing, empty or non-string token and orderId', async () => {
    const cookie = sessionCookie(newUser());
    const missing = await post(cookie).send({});
    expect(missing.status).toBe(400);
    expect(missing.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['orderId', 'token']);

    const wrong = await post(cookie).send({ token: '', orderId: 'not-an-id' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors).toHaveLength(2);

    const types = await post(cookie).send({ token: 42, orderId: ['x'] });
    expect(types.status).toBe(400);
    expect(types.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['orderId', 'token']);
  });

  test('answers 400 in the error shape for malformed JSON', async () => {
    const res = await post(sessionCookie(newUser())).set('Content-Type', 'application/json').send('{"token":');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].message).toMatch(/malformed json/i);
  });

  test('answers 404 for an unknown order', async () => {
    const res = await post(sessionCookie(newUser())).send({ token: 'tok_visa', orderId: newId() });
    expect(res.status).toBe(404);
    expect(res.body.errors[0].message).toBe('Order not found');
  });

  test("answers 401 for another user's order and charges nothing", async () => {
    const owner = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: owner.id });
    const res = await post(sessionCookie(newUser())).send({ token: 'tok_visa', orderId: order.id });
    expect(res.status).toBe(401);
    expect(await paymentsOf(stack.service, order.id)).toEqual([]);
  });

  test('refuses a cancelled order with 400 and charges nothing', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id });
    await stack.peer.publish('order:cancelled', { id: order.id, version: 1, ticket: { id: order.ticket.id } });
    await eventually(async () => (await stack.service.stores.orders.get(order.id))?.status === 'cancelled');
    const res = await post(sessionCookie(user)).send({ token: 'tok_visa', orderId: order.id });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].code).toBe('order_cancelled');
    expect(await paymentsOf(stack.service, order.id)).toEqual([]);
  });

  test('charges the exact price in minor units, stores the payment and publishes payment:created', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 19.99 });
    const res = await post(sessionCookie(user)).send({ token: 'tok_visa', orderId: order.id });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ orderId: order.id, status: 'succeeded', amount: 1999, currency: 'usd' });
    expect(res.body.stripeId).toMatch(/^ch_/);

    const stored = await stack.service.stores.payments.load(res.body.id);
    expect(stored).toMatchObject({
      orderId: order.id,
      userId: user.id,
      amount: 1999,
      currency: 'usd',
      chargeId: res.body.stripeId,
      status: 'succeeded',
    });
    expect(stored?.history.map((h) => h.status)).toEqual(['pending', 'succeeded']);

    const [event] = await stack.peer.waitFor((e) => e.subject === 'payment:created' && e.data.orderId === order.id);
    expect(event?.data).toMatchObject({ id: res.body.id, orderId: order.id, stripeId: res.body.stripeId });
    expect(event?.data.eventId).toEqual(expect.any(String));
  });

  test('refuses a second payment for a paid order with 409 and charges once', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id });
    const first = await post(sessionCookie(user)).send({ token: 'tok_visa', orderId: order.id });
    expect(first.status).toBe(201);
    const second = await post(sessionCookie(user)).send({ token: 'tok_visa', orderId: order.id });
    expect(second.status).toBe(409);
    expect(second.body.errors[0].code).toBe('order_already_paid');
    expect(await paymentsOf(stack.service, order.id)).toHaveLength(1);
    await stack.service.outbox.flush();
    const events = (await storedMessages(stack.nats, 'payment:created')) as { orderId: string }[];
    expect(events.filter((e) => e.orderId === order.id)).toHaveLength(1);
  });

  test('answers 404 in the error shape for an unknown route', async () => {
    const res = await request(stack.service.app).get('/api/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ errors: [{ message: 'Not found', code: 'route_not_found' }] });
  });

  test("paid orders leave nothing on the reconciler's list, one at a time or many at once", async () => {
    const user = newUser();
    const orders = await Promise.all(
      Array.from({ length: 12 }, () => createOrder(stack.peer, stack.service, { userId: user.id })),
    );
    const first = await post(sessionCookie(user)).send({ token: 'tok_visa', orderId: orders[0]!.id });
    const rest = await Promise.all(
      orders.slice(1).map((o) => post(sessionCookie(user)).send({ token: 'tok_visa', orderId: o.id })),
    );
    expect([first, ...rest].map((r) => r.status)).toEqual(orders.map(() => 201));
    await stack.service.stores.payments.idle();
    const ids = new Set([first, ...rest].map((r) => r.body.id as string));
    expect((await stack.service.stores.payments.unsettled(1000)).filter((u) => ids.has(u.paymentId))).toEqual([]);
  });
});
