import request from 'supertest';
import { Types } from 'mongoose';
import { createOrder, newUser, paymentsOf, sessionCookie, useStack } from '../support/harness';
import { localstripe } from '../support/localstripe';

// localstripe keeps charges and declines cards: pm_card_chargeCustomerFail is refused at charge time.
const DECLINED = 'pm_card_chargeCustomerFail';
const GOOD = 'pm_card_visa';

const stack = useStack({
  name: 'declines',
  subjects: ['payment:created', 'payment:failed'],
  proxyTo: 'localstripe',
  env: { PROVIDER_TIMEOUT_MS: '2000', PAYMENTS_RECONCILE_AFTER_MS: '5000' },
});

const pay = (cookie: string, orderId: string, token: string) =>
  request(stack.service.app).post('/api/payments').set('Cookie', cookie).send({ token, orderId });

describe('declined cards', () => {
  test('a decline answers 402, records the payment failed with the reason, publishes payment:failed, and frees the order', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 10 });
    const res = await pay(sessionCookie(user), order.id, DECLINED);
    expect(res.status).toBe(402);
    expect(res.body.errors[0]).toMatchObject({ code: 'card_declined' });

    const [failed] = await paymentsOf(stack.service, order.id);
    expect(failed?.status).toBe('failed');
    expect(failed?.failureReason).toMatch(/declined/i);
    expect(failed?.history.map((h) => h.status)).toEqual(['pending', 'failed']);

    const [event] = await stack.peer.waitFor((e) => e.subject === 'payment:failed' && e.data.orderId === order.id);
    expect(event?.data).toMatchObject({ id: failed?.id, userId: user.id, reason: failed?.failureReason });
    expect(event?.data.eventId).toEqual(expect.any(String));

    const retry = await pay(sessionCookie(user), order.id, GOOD);
    expect(retry.status).toBe(201);
    const payments = await paymentsOf(stack.service, order.id);
    expect(payments.map((p) => p.status).sort()).toEqual(['failed', 'succeeded']);
  });

  // FerretDB applies an update as a read, then a write of the whole document: a payment's write
  // into the order, on one replica, could undo a cancel written in between by another (seen: 1 of
  // 300 such pairs on SQLite), and the order would stay payable, its charge never given back.
  test("payments retried after declines write nothing into the order's copy, which only the orders service's events change", async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 12 });
    const orders = stack.service.db.native.collection('orders');
    const asReceived = await orders.findOne({ _id: new Types.ObjectId(order.id) });

    for (const token of [DECLINED, DECLINED])
      expect((await pay(sessionCookie(user), order.id, token)).status).toBe(402);
    expect((await pay(sessionCookie(user), order.id, GOOD)).status).toBe(201);
    expect((await pay(sessionCookie(user), order.id, GOOD)).status).toBe(409);

    expect(await orders.findOne({ _id: new Types.ObjectId(order.id) })).toEqual(asReceived);
    const payments = await paymentsOf(stack.service, order.id);
    expect(payments.map((p) => p.status).sort()).toEqual(['failed', 'failed', 'succeeded']);
  });

  // Each request tries the order's attempts from the first; without a bound, a card tester
  // declining on one order would make every next request longer, for ever.
  test('an order takes 32 attempts: after 32 declines the next request answers 409 order_attempts_exhausted and charges nothing', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 3 });
    for (let i = 0; i < 32; i++) expect((await pay(sessionCookie(user), order.id, DECLINED)).status).toBe(402);
    const charged = stack.stripe.chargeAttempts().length;

    const res = await pay(sessionCookie(user), order.id, GOOD);
    expect(res.status).toBe(409);
    expect(res.body.errors[0]).toMatchObject({ code: 'order_attempts_exhausted' });
    expect(stack.stripe.chargeAttempts()).toHaveLength(charged);
    const payments = await paymentsOf(stack.service, order.id);
    expect(payments).toHaveLength(32);
    expect(payments.every((p) => p.status === 'failed')).toBe(true);
  }, 60_000);
});

describe('amounts as the provider received them', () => {
  test.each([
    [19.99, 'usd', 1999],
    [0.1, 'eur', 10],
    [1500, 'jpy', 1500],
    [1.5, 'kwd', 1500],
  ])('a price of %p %s is charged as %p minor units', async (price, currency, minor) => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price, currency });
    const res = await pay(sessionCookie(user), order.id, GOOD);
    expect(res.status).toBe(201);
    const charge = await localstripe.charges.retrieve(res.body.stripeId as string);
    expect({ amount: charge.amount, currency: charge.currency }).toEqual({ amount: minor, currency });
  });
});

describe('provider outages', () => {
  test('an unreachable provider answers 503, stores no succeeded payment, and the reconciler settles it later', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 30 });
    stack.stripe.failNext(10, 500);
    const res = await pay(sessionCookie(user), order.id, GOOD);
    expect(res.status).toBe(503);
    expect(res.body.errors[0].code).toBe('provider_unavailable');
    const [pending] = await paymentsOf(stack.service, order.id);
    expect(pending?.status).toBe('pending');

    // Another try while the first is unsettled must not start a second charge.
    stack.stripe.failNext(0);
    expect((await pay(sessionCookie(user), order.id, GOOD)).status).toBe(409);

    // Past its dueAt, the reconciler asks again under the same idempotency key.
    await stack.service.stores.payments.postpone(pending!.id, new Date(0));
    await stack.service.reconciler.runOnce();
    const settled = await stack.service.stores.payments.load(pending!.id);
    expect(settled?.status).toBe('succeeded');
    await stack.peer.waitFor((e) => e.subject === 'payment:created' && e.data.orderId === order.id);
    const keys = new Set(
      stack.stripe
        .chargeAttempts()
        .filter((c) => c.body.includes(pending!.id))
        .map((c) => c.idempotencyKey),
    );
    expect(keys.size).toBe(1);
  });

  test('a rate limit (429) and a dropped connection are outages too', async () => {
    for (const failure of [429, 'drop'] as const) {
      const user = newUser();
      const order = await createOrder(stack.peer, stack.service, { userId: user.id });
      stack.stripe.failNext(10, failure);
      const res = await pay(sessionCookie(user), order.id, GOOD);
      stack.stripe.failNext(0);
      expect(res.status).toBe(503);
      expect((await paymentsOf(stack.service, order.id)).map((p) => p.status)).toEqual(['pending']);
    }
  });
});
