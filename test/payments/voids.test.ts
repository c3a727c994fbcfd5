import request from 'supertest';
import { createOrder, eventually, newId, newUser, paymentsOf, sessionCookie, useStack } from '../support/harness';
import { storedMessages } from '../support/nats-monitor';
import { localstripe } from '../support/localstripe';

const stack = useStack({
  name: 'voids',
  proxyTo: 'localstripe',
  env: { PROVIDER_TIMEOUT_MS: '2000', PAYMENTS_RECONCILE_AFTER_MS: '5000' },
});
const admin = sessionCookie(newUser('admin'));
const voidIt = (id: string, cookie = admin) =>
  request(stack.service.app).delete(`/api/payments/${id}`).set('Cookie', cookie);

/** A payment the provider never answered for: left pending, as after an outage. */
async function leftByOutage(card: string) {
  const user = newUser();
  const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 25 });
  stack.stripe.failNext(10, 500);
  const res = await request(stack.service.app)
    .post('/api/payments')
    .set('Cookie', sessionCookie(user))
    .send({ token: card, orderId: order.id });
  stack.stripe.failNext(0);
  expect(res.status).toBe(503);
  const [payment] = await paymentsOf(stack.service, order.id);
  expect(payment?.status).toBe('pending');
  return { user, payment: payment! };
}

const published = async (subject: 'payment:voided' | 'payment:refunded', paymentId: string) => {
  await stack.service.stores.payments.idle();
  await eventually(async () => (await stack.service.outbox.backlog()) === 0);
  return ((await storedMessages(stack.nats, subject)) as { id: string; paymentId?: string }[]).filter(
    (e) => (e.paymentId ?? e.id) === paymentId,
  );
};

describe('DELETE /api/payments/:id', () => {
  test('a pending payment the provider charges after all is voided, and its charge refunded in full', async () => {
    const { payment } = await leftByOutage('pm_card_visa');
    const res = await voidIt(payment.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: payment.id, status: 'voided', amountRefunded: 2500 });
    expect(res.body.refunds).toEqual([expect.objectContaining({ amount: 2500, status: 'succeeded' })]);
    // The provider was asked under the payment's own key, and keeps no money.
    const asked = stack.stripe.chargeAttempts().filter((c) => c.body.includes(payment.id));
    expect(new Set(asked.map((c) => c.idempotencyKey))).toEqual(new Set([`payment-${payment.id}`]));
    const charge = await localstripe.charges.retrieve(res.body.stripeId as string);
    expect({ amount: charge.amount, refunded: charge.amount_refunded }).toEqual({ amount: 2500, refunded: 2500 });
    expect(await published('payment:voided', payment.id)).toHaveLength(1);
    expect(await published('payment:refunded', payment.id)).toHaveLength(1);
    // The record stays: it is the legal record.
    expect((await request(stack.service.app).get(`/api/payments/${payment.id}`).set('Cookie', admin)).body.status).toBe(
      'voided',
    );
  });

  test('a void whose refund the provider refuses leaves the charge to an admin refund, like a payment', async () => {
    const { payment } = await leftByOutage('pm_card_visa');
    stack.stripe.failNext(1, 400, 'invalid_request_error', '/v1/refunds');
    const res = await voidIt(payment.id);
    expect(res.status).toBe(402);
    expect(res.body.errors[0].code).toBe('refund_declined');
    const voided = await stack.service.stores.payments.load(payment.id);
    expect(voided).toMatchObject({ status: 'voided', amountRefunded: 0 });
    expect(voided?.chargeId).toEqual(expect.any(String));

    const refund = await request(stack.service.app)
      .post(`/api/payments/${payment.id}/refunds`)
      .set('Cookie', admin)
      .send({});
    expect(refund.status).toBe(201);
    expect(refund.body.payment).toMatchObject({ status: 'voided', amountRefunded: 2500 });
    const charge = await localstripe.charges.retrieve(voided?.chargeId as string);
    expect(charge.amount_refunded).toBe(2500);
  });

  test('voided while its request was charging it: the request answers 409 payment_voided, and the charge is refunded', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 25 });
    const attempts = stack.stripe.chargeAttempts().length;
    const release = stack.stripe.holdNext();
    const paying = request(stack.service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'pm_card_visa', orderId: order.id })
      .then((r) => r);
    await stack.stripe.chargeArrived(attempts + 1);
    const [payment] = await paymentsOf(stack.service, order.id);
    const voided = await voidIt(payment!.id);
    expect(voided.body).toMatchObject({ status: 'voided', amountRefunded: 2500 });

    release();
    const paid = await paying;
    expect(paid.status).toBe(409);
    expect(paid.body.errors[0].code).toBe('payment_voided');
    const charge = await localstripe.charges.retrieve(voided.body.stripeId as string);
    expect(charge.amount_refunded).toBe(2500);
  });

  test('a request retried with its Idempotency-Key after an admin voided its payment answers 409 payment_voided, and charges nothing more', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 25 });
    const key = `void-retry-${newId()}`;
    const pay = () =>
      request(stack.service.app)
        .post('/api/payments')
        .set('Cookie', sessionCookie(user))
        .set('Idempotency-Key', key)
        .send({ token: 'pm_card_visa', orderId: order.id });
    stack.stripe.failNext(10, 500);
    expect((await pay()).status).toBe(503);
    stack.stripe.failNext(0);
    const [payment] = await paymentsOf(stack.service, order.id);
    expect((await voidIt(payment!.id)).body).toMatchObject({ status: 'voided', amountRefunded: 2500 });

    const retried = await pay();
    expect({ status: retried.status, code: retried.body.errors?.[0]?.code }).toEqual({
      status: 409,
      code: 'payment_voided',
    });
    expect(await paymentsOf(stack.service, order.id)).toHaveLength(1);
    const keys = stack.stripe
      .chargeAttempts()
      .filter((c) => c.body.includes(order.id))
      .map((c) => c.idempotencyKey);
    expect(new Set(keys)).toEqual(new Set([`payment-${payment!.id}`]));
  });

  test('a pending payment whose card the provider declines is voided with nothing to refund', async () => {
    const { payment } = await leftByOutage('pm_card_chargeCustomerFail');
    const res = await voidIt(payment.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'voided', refunds: [], amountRefunded: 0, stripeId: null });
    expect(await published('payment:voided', payment.id)).toHaveLength(1);
  });

  test('voiding a voided payment answers it again; succeeded 409 use_refund; failed 409 payment_not_voidable', async () => {
    const { payment } = await leftByOutage('pm_card_chargeCustomerFail');
    expect((await voidIt(payment.id)).status).toBe(200);
    const again = await voidIt(payment.id);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('voided');
    expect(await published('payment:voided', payment.id)).toHaveLength(1);

    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id });
    const paid = await request(stack.service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'pm_card_visa', orderId: order.id });
    expect((await voidIt(paid.body.id as string)).body.errors[0].code).toBe('use_refund');

    const declined = await createOrder(stack.peer, stack.service, { userId: user.id });
    await request(stack.service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'pm_card_chargeCustomerFail', orderId: declined.id });
    const [failed] = await paymentsOf(stack.service, declined.id);
    const res = await voidIt(failed!.id);
    expect(res.status).toBe(409);
    expect(res.body.errors[0].code).toBe('payment_not_voidable');
  });

  test('for admins only; an unknown payment 404; the provider away 503 with the payment still pending', async () => {
    const { user, payment } = await leftByOutage('pm_card_visa');
    expect((await voidIt(payment.id, sessionCookie(user))).status).toBe(401);
    expect((await voidIt(newId())).status).toBe(404);
    stack.stripe.failNext(10, 500);
    const res = await voidIt(payment.id);
    stack.stripe.failNext(0);
    expect(res.status).toBe(503);
    expect((await stack.service.stores.payments.load(payment.id))?.status).toBe('pending');
  });
});
