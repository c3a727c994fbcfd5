import request from 'supertest';
import {
  createOrder,
  eventually,
  movableClock,
  newId,
  newUser,
  paymentsOf,
  sessionCookie,
  uniqueName,
  useStack,
  type TestUser,
} from '../support/harness';
import { storedMessages } from '../support/nats-monitor';
import { localstripe } from '../support/localstripe';

// localstripe keeps charges and refunds, so what was refunded can be read back from it.

// An admin by the service's list, as the ticketing auth service issues no role.
const listedAdmin: TestUser = { id: newId(), email: 'ops@test.io' };
const clock = movableClock();
const stack = useStack({
  name: 'refunds',
  proxyTo: 'localstripe',
  clock,
  env: {
    ADMIN_USER_IDS: `someone-else, ${listedAdmin.id}`,
    PROVIDER_TIMEOUT_MS: '2000',
    PAYMENTS_RECONCILE_AFTER_MS: '5000',
  },
});
const admin = sessionCookie(newUser('admin'));

async function paidPayment(price = 19.99, card = 'pm_card_visa') {
  const user = newUser();
  const order = await createOrder(stack.peer, stack.service, { userId: user.id, price });
  const res = await request(stack.service.app)
    .post('/api/payments')
    .set('Cookie', sessionCookie(user))
    .send({ token: card, orderId: order.id });
  return { user, order, res, id: res.body.id as string };
}

const refund = (paymentId: string, body: object, cookie = admin) =>
  request(stack.service.app).post(`/api/payments/${paymentId}/refunds`).set('Cookie', cookie).send(body);

const refundedEvents = async (paymentId: string) => {
  await eventually(async () => (await stack.service.outbox.backlog()) === 0);
  await stack.service.stores.payments.idle();
  return ((await storedMessages(stack.nats, 'payment:refunded')) as { paymentId: string; amount: number }[]).filter(
    (e) => e.paymentId === paymentId,
  );
};

describe('POST /api/payments/:id/refunds', () => {
  test('a part, then the rest: partially_refunded, then refunded; the provider refunded each; one payment:refunded each', async () => {
    const { id, res } = await paidPayment(19.99);
    expect(res.status).toBe(201);

    const part = await refund(id, { amount: 500, reason: 'requested_by_customer' });
    expect(part.status).toBe(201);
    expect(part.body).toMatchObject({
      paymentId: id,
      amount: 500,
      currency: 'usd',
      reason: 'requested_by_customer',
      status: 'succeeded',
    });
    expect(part.body.providerId).toMatch(/^re_/);
    expect(part.body.payment).toMatchObject({ status: 'partially_refunded', amount: 1999, amountRefunded: 500 });

    const rest = await refund(id, { reason: 'duplicate' });
    expect(rest.status).toBe(201);
    expect(rest.body).toMatchObject({ amount: 1499, reason: 'duplicate', status: 'succeeded' });
    expect(rest.body.payment).toMatchObject({ status: 'refunded', amountRefunded: 1999 });

    const atProvider = await localstripe.refunds.list({ charge: res.body.stripeId as string });
    expect(atProvider.data.map((r) => r.amount).sort()).toEqual([1499, 500]);

    const list = await request(stack.service.app).get(`/api/payments/${id}/refunds`).set('Cookie', admin);
    expect(list.body).toMatchObject({ object: 'list', has_more: false });
    expect(list.body.data.map((r: { amount: number }) => r.amount)).toEqual([500, 1499]);

    const events = await refundedEvents(id);
    expect(events.map((e) => [e.amount, (e as unknown as { amountRefunded: number }).amountRefunded])).toEqual([
      [500, 500],
      [1499, 1999],
    ]);
    expect((await refund(id, {})).body.errors[0].code).toBe('payment_not_refundable');
  });

  test('twenty refunds of 30% at once: exactly three go through, the others 409 refund_exceeds_remaining', async () => {
    const { id } = await paidPayment(100);
    const made = stack.stripe.refundsMade().length;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => refund(id, { amount: 3000, reason: 'fraudulent' })),
    );
    const ok = answers.filter((r) => r.status === 201);
    expect(ok).toHaveLength(3);
    for (const r of answers.filter((a) => a.status !== 201)) {
      expect(r.status).toBe(409);
      expect(r.body.errors[0].code).toBe('refund_exceeds_remaining');
    }
    expect(stack.stripe.refundsMade().length - made).toBe(3);
    const payment = await request(stack.service.app).get(`/api/payments/${id}`).set('Cookie', admin);
    expect(payment.body).toMatchObject({ status: 'partially_refunded', amount: 10000, amountRefunded: 9000 });
    expect(await refundedEvents(id)).toHaveLength(3);
  });

  test('for admins only, by role or by ADMIN_USER_IDS; the payer gets 401 like anyone', async () => {
    const { id, user } = await paidPayment();
    expect((await refund(id, { amount: 100 }, sessionCookie(user))).status).toBe(401);
    expect((await refund(id, { amount: 100 }, sessionCookie(newUser()))).status).toBe(401);
    expect((await request(stack.service.app).post(`/api/payments/${id}/refunds`).send({})).status).toBe(401);
    expect((await refund(id, { amount: 100 }, sessionCookie(listedAdmin))).status).toBe(201);
  });

  test('refuses an unknown reason and an amount that is not a whole number above 0, with 400 per field', async () => {
    const { id } = await paidPayment();
    const reason = await refund(id, { reason: 'changed_my_mind' });
    expect(reason.status).toBe(400);
    expect(reason.body.errors[0]).toMatchObject({ field: 'reason', code: 'invalid_field' });
    for (const amount of [0, -5, 1.5, '10', null]) {
      const res = await refund(id, { amount });
      expect(res.status).toBe(400);
      expect(res.body.errors[0]).toMatchObject({ field: 'amount', code: 'invalid_field' });
    }
    expect((await refund(id, { amount: 2000 })).body.errors[0].code).toBe('refund_exceeds_remaining');
    expect((await refund(newId(), {})).status).toBe(404);
    expect((await refund('nope', {})).status).toBe(400);
  });

  test('a payment that did not succeed is not refundable', async () => {
    const { order, res } = await paidPayment(10, 'pm_card_chargeCustomerFail');
    expect(res.status).toBe(402);
    const [failed] = await paymentsOf(stack.service, order.id);
    expect(failed?.status).toBe('failed');
    const answer = await refund(failed!.id, {});
    expect(answer.status).toBe(409);
    expect(answer.body.errors[0].code).toBe('payment_not_refundable');
  });

  test('with an Idempotency-Key, a repeat replays the first answer and refunds nothing more', async () => {
    const { id } = await paidPayment();
    const key = uniqueName('refund');
    const first = await refund(id, { amount: 700 }).set('Idempotency-Key', key);
    const again = await refund(id, { amount: 700 }).set('Idempotency-Key', key);
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    expect((await stack.service.stores.payments.load(id))?.amountRefunded).toBe(700);
  });

  test('a repeat with the Idempotency-Key to the same route spelled otherwise (capitals, a trailing slash) is the same request', async () => {
    const { id } = await paidPayment();
    const key = uniqueName('refund');
    const send = (path: string) =>
      request(stack.service.app)
        .post(path)
        .set('Cookie', admin)
        .set('Idempotency-Key', key)
        .send({ amount: 300, reason: 'requested_by_customer' });
    const first = await send(`/api/payments/${id}/refunds`);
    expect(first.status).toBe(201);
    for (const path of [
      `/api/payments/${id.toUpperCase()}/refunds`,
      `/api/payments/${id}/refunds/`,
      `/API/Payments/${id}/Refunds`,
    ]) {
      const again = await send(path);
      expect({ path, status: again.status, id: again.body.id }).toEqual({ path, status: 201, id: first.body.id });
      expect(again.headers['idempotent-replayed']).toBe('true');
    }
    expect((await stack.service.stores.payments.load(id))?.amountRefunded).toBe(300);
  });

  test('a body that is not JSON, or a reason that is not a string, is refused with 4xx and refunds nothing', async () => {
    const { id } = await paidPayment();
    const path = `/api/payments/${id}/refunds`;
    const none = await request(stack.service.app).post(path).set('Cookie', admin);
    expect(none.status).toBe(415);
    expect(none.body.errors[0]).toMatchObject({ code: 'unsupported_media_type' });
    const text = await request(stack.service.app).post(path).set('Cookie', admin).type('text/plain').send('{}');
    expect(text.status).toBe(415);
    for (const reason of [[], ['duplicate'], 7]) {
      const res = await refund(id, { reason });
      expect({ reason, status: res.status, field: res.body.errors?.[0]?.field }).toEqual({
        reason,
        status: 400,
        field: 'reason',
      });
    }
    for (const amount of [[500], '500']) {
      const res = await refund(id, { amount });
      expect({ amount, status: res.status, field: res.body.errors?.[0]?.field }).toEqual({
        amount,
        status: 400,
        field: 'amount',
      });
    }
    expect(await stack.service.stores.payments.load(id)).toMatchObject({ amountRefunded: 0, refunds: [] });
  });

  test('retried with its Idempotency-Key after a 503, it is the same refund: nothing more is refunded', async () => {
    const { id } = await paidPayment(20);
    const key = uniqueName('refund');
    stack.stripe.failNext(10, 500);
    const first = await refund(id, { amount: 500 }).set('Idempotency-Key', key);
    stack.stripe.failNext(0);
    expect(first.status).toBe(503);

    const again = await refund(id, { amount: 500 }).set('Idempotency-Key', key);
    expect(again.status).toBe(201);
    const payment = await stack.service.stores.payments.load(id);
    expect(payment).toMatchObject({ status: 'partially_refunded', amountRefunded: 500 });
    expect(payment?.refunds.map((r) => [r.id, r.status])).toEqual([[again.body.id, 'succeeded']]);

    // The reconciler finds nothing left to refund.
    await stack.service.stores.payments.postpone(id, new Date(0));
    await stack.service.reconciler.runOnce();
    expect((await stack.service.stores.payments.load(id))?.amountRefunded).toBe(500);
    expect(stack.stripe.refundsMade().filter((r) => r.body.includes(again.body.id as string))).toHaveLength(1);
    expect(await refundedEvents(id)).toHaveLength(1);
  });

  test('the provider away: 503, the refund pending with its amount set aside; the reconciler settles it under the same key', async () => {
    const { id } = await paidPayment(20);
    stack.stripe.failNext(10, 500);
    const res = await refund(id, { amount: 1500 });
    stack.stripe.failNext(0);
    expect(res.status).toBe(503);
    expect(res.body.errors[0].code).toBe('provider_unavailable');
    const pending = await stack.service.stores.payments.load(id);
    expect(pending?.refunds).toEqual([expect.objectContaining({ amount: 1500, status: 'pending' })]);
    // What is set aside cannot be refunded a second time meanwhile.
    expect((await refund(id, { amount: 1000 })).body.errors[0].code).toBe('refund_exceeds_remaining');

    await stack.service.stores.payments.postpone(id, new Date(0));
    await stack.service.reconciler.runOnce();
    const settled = await stack.service.stores.payments.load(id);
    expect(settled).toMatchObject({ status: 'partially_refunded', amountRefunded: 1500, dueAt: null });
    const refundId = pending?.refunds[0]?.id;
    const keys = new Set(
      stack.stripe
        .refundAttempts()
        .filter((r) => r.body.includes(refundId as string))
        .map((r) => r.idempotencyKey),
    );
    expect([...keys]).toEqual([`refund-${refundId}`]);
    expect(stack.stripe.refundsMade().filter((r) => r.body.includes(refundId as string))).toHaveLength(1);
    expect(await refundedEvents(id)).toHaveLength(1);
  });

  test('the provider refusing it: 402 refund_declined, the refund failed and its amount free again', async () => {
    const { id } = await paidPayment(20);
    stack.stripe.failNext(1, 400, 'invalid_request_error');
    const res = await refund(id, { amount: 2000 });
    expect(res.status).toBe(402);
    expect(res.body.errors[0].code).toBe('refund_declined');
    const payment = await stack.service.stores.payments.load(id);
    expect(payment).toMatchObject({ status: 'succeeded', amountRefunded: 0 });
    expect(payment?.refunds).toEqual([expect.objectContaining({ status: 'failed', amount: 2000 })]);
    expect((await refund(id, { amount: 2000 })).status).toBe(201);
  });

  test('a refund whose answer was lost, asked again after the provider forgot its key, is looked up, not made twice', async () => {
    const { id } = await paidPayment(20);
    stack.stripe.loseReplies(10, '/v1/refunds');
    const res = await refund(id, { amount: 500 });
    expect(res.status).toBe(503);
    const refundId = (await stack.service.stores.payments.load(id))?.refunds[0]?.id as string;
    const made = () => stack.stripe.refundsMade().filter((r) => r.body.includes(refundId));
    expect(made()).toHaveLength(1);

    // A day later: the provider keeps keys for 24 hours.
    stack.stripe.loseReplies(0, '/v1/refunds');
    stack.stripe.forgetKeys();
    const day = 24 * 60 * 60 * 1000;
    clock.advance(day);
    try {
      await stack.service.stores.payments.postpone(id, new Date(0));
      await stack.service.reconciler.runOnce();
      expect(await stack.service.stores.payments.load(id)).toMatchObject({
        status: 'partially_refunded',
        amountRefunded: 500,
      });
      expect(made()).toHaveLength(1);
    } finally {
      clock.advance(-day);
    }
  });
});
