import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import request from 'supertest';
import Stripe from 'stripe';
import { paymentIdForRequest } from '../../src/domain/payment';
import {
  createOrder,
  eventually,
  newUser,
  paymentsOf,
  sessionCookie,
  uniqueName,
  useStack,
  type Received,
} from '../support/harness';
import { localstripe, localstripeUrl as url, madeFor } from '../support/localstripe';

// localstripe keeps PaymentIntents, charges and refunds, and sends signed webhooks of its own.
const secret = 'whsec_payments_test';

const stack = useStack({
  name: 'webhooks',
  proxyTo: 'localstripe',
  subjects: ['payment:created', 'payment:failed', 'payment:refunded', 'payment:disputed'],
  env: { STRIPE_WEBHOOK_SECRET: secret, PROVIDER_TIMEOUT_MS: '2000' },
});
const admin = sessionCookie(newUser('admin'));
const path = '/api/payments/webhooks/stripe';

/** An event as Stripe sends it: the JSON body, and its signature over the exact bytes. */
function signed(type: string, object: object, opts: { id?: string; timestamp?: number; key?: string } = {}) {
  const payload = JSON.stringify({
    id: opts.id ?? uniqueName('evt'),
    object: 'event',
    type,
    created: Math.floor(Date.now() / 1000),
    data: { object },
  });
  const header = Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: opts.key ?? secret,
    ...(opts.timestamp !== undefined && { timestamp: opts.timestamp }),
  });
  return { payload, header };
}

const deliver = (event: { payload: string; header: string }) =>
  request(stack.service.app)
    .post(path)
    .set('content-type', 'application/json')
    .set('stripe-signature', event.header)
    .send(event.payload);

async function counted(type: string, outcome: string): Promise<number> {
  const metric = await stack.service.metrics.providerEvents.get();
  return metric.values.find((v) => v.labels.type === type && v.labels.outcome === outcome)?.value ?? 0;
}

async function paidPayment(price = 19.99) {
  const user = newUser();
  const order = await createOrder(stack.peer, stack.service, { userId: user.id, price });
  const res = await request(stack.service.app)
    .post('/api/payments')
    .set('Cookie', sessionCookie(user))
    .send({ token: 'pm_card_visa', orderId: order.id });
  expect(res.status).toBe(201);
  return { id: res.body.id as string, chargeId: res.body.stripeId as string };
}

const load = (id: string) => stack.service.stores.payments.load(id);

/** A dispute of the charge, as Stripe would answer it (localstripe keeps none): its id, for the event. */
function disputeOf(charge: string, amount: number, reason: string): string {
  const id = uniqueName('dp');
  stack.stripe.serve(`/v1/disputes/${id}`, {
    id,
    object: 'dispute',
    charge,
    amount,
    currency: 'usd',
    reason,
    status: 'needs_response',
  });
  return id;
}

/** A saved card that needs its holder (3-D Secure): declined off-session. */
const cardAskingItsHolder = () =>
  localstripe.paymentMethods.create({
    type: 'card',
    card: { number: '4000002500003155', exp_month: 12, exp_year: 2034, cvc: '123' },
  } as Stripe.PaymentMethodCreateParams);

/** The holder authenticates afterwards, and the charge goes through. */
const authenticate = (intent: Stripe.PaymentIntent | undefined) =>
  fetch(`${url.origin}/v1/payment_intents/${intent?.id}/_authenticate`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk_test_payments', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_secret: intent?.client_secret ?? '', success: 'true' }),
  });
const about = (id: string) => (r: Received) => r.data.id === id || r.data.paymentId === id;

describe('POST /api/payments/webhooks/stripe', () => {
  test('a body that is not what Stripe signed, a wrong key or an old signature is refused with 400, and nothing is recorded', async () => {
    const { id, chargeId } = await paidPayment();
    // A refund the provider holds: an event that got through would record it.
    await localstripe.refunds.create({ charge: chargeId, amount: 300 });
    const good = signed('charge.refunded', { id: chargeId, object: 'charge' });
    const tampered = { ...good, payload: good.payload.replace(chargeId, 'ch_other') };
    const wrongKey = signed('charge.refunded', { id: chargeId }, { key: 'whsec_someone_else' });
    const old = signed('charge.refunded', { id: chargeId }, { timestamp: Math.floor(Date.now() / 1000) - 600 });

    for (const event of [tampered, wrongKey, old]) {
      const res = await deliver(event);
      expect(res.status).toBe(400);
      expect(res.body.errors[0]).toMatchObject({ field: 'Stripe-Signature' });
    }
    const unsigned = await request(stack.service.app).post(path).send(good.payload);
    expect(unsigned.status).toBe(400);
    expect((await load(id))?.version).toBe(1);
    // Signed as Stripe signs, the same event is recorded.
    expect((await deliver(good)).body).toEqual({ received: true, outcome: 'recorded' });
    expect(await load(id)).toMatchObject({ version: 2, amountRefunded: 300 });
  });

  test('an event of no concern here is answered 200 and ignored', async () => {
    const res = await deliver(signed('customer.created', { id: 'cus_1', object: 'customer' }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, outcome: 'ignored' });
  });

  test("a payment's late success sent by localstripe: the declined 3-D Secure payment succeeds, payment:created follows", async () => {
    // What the service is paid for: a saved card that needs its holder, declined off-session.
    const card = await cardAskingItsHolder();
    const requestId = uniqueName('req');
    await stack.peer.publish('payment:requested', {
      requestId,
      userId: 'u-3ds',
      paymentMethod: card.id,
      amount: 1200,
      currency: 'usd',
    });
    await stack.peer.waitFor((r) => r.subject === 'payment:failed' && r.data.requestId === requestId);
    const paymentId = paymentIdForRequest(requestId);
    expect((await load(paymentId))?.status).toBe('failed');

    // localstripe delivers its events to the service over HTTP, signed with the secret.
    const server: Server = stack.service.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const hook = `${url.origin}/_config/webhooks/${uniqueName('payments')}`;
    const register = (to: string, events: string[]) =>
      fetch(hook, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: to, secret, events }),
      });
    const listening = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
    expect((await register(listening, ['payment_intent.succeeded'])).status).toBe(200);
    try {
      // The holder authenticates afterwards, and the charge goes through.
      const intent = await madeFor(localstripe.paymentIntents.list({ limit: 100 }), paymentId);
      expect(intent?.status).toBe('requires_action');
      expect((await authenticate(intent)).status).toBe(200);

      const [created] = await stack.peer.waitFor(
        (r) => r.subject === 'payment:created' && r.data.requestId === requestId,
        1,
        15000,
      );
      expect(created?.data).toMatchObject({ id: paymentId, amount: 1200, currency: 'usd' });
      const stored = await load(paymentId);
      expect(stored?.status).toBe('succeeded');
      expect(stored?.history.map((h) => h.status)).toEqual(['pending', 'failed', 'succeeded']);
      const charge = await localstripe.charges.retrieve(stored?.chargeId as string);
      expect(charge).toMatchObject({ status: 'succeeded', amount: 1200 });
      // The event goes out while the webhook is handled; the handler counts it a moment later.
      await eventually(async () => (await counted('payment_intent.succeeded', 'recorded')) === 1);
    } finally {
      // localstripe is shared by every test file: this endpoint stops receiving.
      await register('http://127.0.0.1:9/', ['none']);
      server.close();
    }
  });

  test('a voided payment that the holder authenticates later keeps no money: its late charge is refunded in full', async () => {
    const card = await cardAskingItsHolder();
    const requestId = uniqueName('req');
    const paymentId = paymentIdForRequest(requestId);
    // The provider away when it was asked: the payment is left pending, and an admin voids it.
    const leftPending = async () =>
      (await stack.service.metrics.eventsConsumed.get()).values.find(
        (v) => v.labels.subject === 'payment:requested' && v.labels.outcome === 'pending',
      )?.value ?? 0;
    const before = await leftPending();
    stack.stripe.failNext(10, 500);
    await stack.peer.publish('payment:requested', {
      requestId,
      userId: 'u-3ds-void',
      paymentMethod: card.id,
      amount: 1300,
      currency: 'usd',
    });
    // Until its handler is done with it: an ask still under way would find the provider back.
    await eventually(async () => (await load(paymentId))?.status === 'pending' && (await leftPending()) > before);
    stack.stripe.failNext(0);
    const voided = await request(stack.service.app).delete(`/api/payments/${paymentId}`).set('Cookie', admin);
    expect(voided.body).toMatchObject({ status: 'voided', stripeId: null, refunds: [] });

    // The void's ask left the card waiting for its holder, who authenticates afterwards.
    const intent = await madeFor(localstripe.paymentIntents.list({ limit: 100 }), paymentId);
    expect(intent?.status).toBe('requires_action');
    expect((await authenticate(intent)).status).toBe(200);

    const res = await deliver(signed('payment_intent.succeeded', { id: intent?.id, object: 'payment_intent' }));
    expect(res.body).toEqual({ received: true, outcome: 'recorded' });
    await eventually(async () => (await load(paymentId))?.amountRefunded === 1300);
    const stored = await load(paymentId);
    expect(stored).toMatchObject({ status: 'voided', amountRefunded: 1300 });
    expect(stored?.refunds).toEqual([expect.objectContaining({ amount: 1300, status: 'succeeded' })]);
    const charge = await localstripe.charges.retrieve(stored?.chargeId as string);
    expect({ amount: charge.amount, refunded: charge.amount_refunded }).toEqual({ amount: 1300, refunded: 1300 });
    const [refunded] = await stack.peer.waitFor((r) => r.subject === 'payment:refunded' && about(paymentId)(r));
    expect(refunded?.data).toMatchObject({ amount: 1300, amountRefunded: 1300 });
  });

  test('a refund made in the dashboard is recorded as a refund and published; repeats change nothing', async () => {
    const { id, chargeId } = await paidPayment(19.99);
    const made = await localstripe.refunds.create({ charge: chargeId, amount: 500 });

    const event = signed('charge.refunded', { id: chargeId, object: 'charge' });
    const res = await deliver(event);
    expect(res.body).toEqual({ received: true, outcome: 'recorded' });
    const stored = await load(id);
    expect(stored).toMatchObject({ status: 'partially_refunded', amountRefunded: 500 });
    expect(stored?.refunds).toEqual([
      expect.objectContaining({ amount: 500, status: 'succeeded', providerId: made.id }),
    ]);
    const [published] = await stack.peer.waitFor((r) => r.subject === 'payment:refunded' && about(id)(r));
    expect(published?.data).toMatchObject({ paymentId: id, amount: 500, amountRefunded: 500 });

    // The same event again, and another event about the same refund.
    expect((await deliver(event)).body).toEqual({ received: true, outcome: 'duplicate' });
    const another = signed('refund.updated', { id: made.id, object: 'refund', charge: chargeId });
    expect((await deliver(another)).body).toEqual({ received: true, outcome: 'unchanged' });
    expect((await load(id))?.version).toBe(stored?.version);

    // What is left can still be refunded here.
    const rest = await request(stack.service.app)
      .post(`/api/payments/${id}/refunds`)
      .set('Cookie', admin)
      .send({ reason: 'requested_by_customer' });
    expect(rest.status).toBe(201);
    expect(rest.body).toMatchObject({ amount: 1499 });
    expect((await load(id))?.status).toBe('refunded');
  });

  test('a refund or a dispute of a charge whose payment is still recorded pending records the charge first, then it', async () => {
    const charged = async (price: number) => {
      const user = newUser();
      const order = await createOrder(stack.peer, stack.service, { userId: user.id, price });
      // The charge is made, its answer lost: the payment stays pending until someone looks.
      stack.stripe.loseReplies(10, '/v1/charges');
      const res = await request(stack.service.app)
        .post('/api/payments')
        .set('Cookie', sessionCookie(user))
        .send({ token: 'pm_card_visa', orderId: order.id });
      stack.stripe.loseReplies(0, '/v1/charges');
      expect(res.status).toBe(503);
      const [payment] = await paymentsOf(stack.service, order.id);
      expect(payment?.status).toBe('pending');
      const charge = await madeFor(localstripe.charges.list({ limit: 100 }), payment!.id);
      return { id: payment!.id, chargeId: charge?.id as string };
    };

    const refunded = await charged(19.99);
    await localstripe.refunds.create({ charge: refunded.chargeId, amount: 500 });
    const res = await deliver(signed('charge.refunded', { id: refunded.chargeId, object: 'charge' }));
    expect(res.body).toEqual({ received: true, outcome: 'recorded' });
    expect(await load(refunded.id)).toMatchObject({
      status: 'partially_refunded',
      chargeId: refunded.chargeId,
      amountRefunded: 500,
    });

    const disputed = await charged(25);
    const disputeId = disputeOf(disputed.chargeId, 2500, 'fraudulent');
    const dispute = signed('charge.dispute.created', { id: disputeId, object: 'dispute', charge: disputed.chargeId });
    expect((await deliver(dispute)).body).toEqual({ received: true, outcome: 'recorded' });
    expect(await load(disputed.id)).toMatchObject({ status: 'disputed', chargeId: disputed.chargeId });
  });

  test('a refund the provider reports failed after it succeeded gives its amount back to the payment, to refund again', async () => {
    const { id, chargeId } = await paidPayment(19.99);
    const first = await request(stack.service.app)
      .post(`/api/payments/${id}/refunds`)
      .set('Cookie', admin)
      .send({ reason: 'requested_by_customer' });
    expect(first.body).toMatchObject({ amount: 1999, status: 'succeeded' });
    expect((await load(id))?.status).toBe('refunded');
    const ours = (await load(id))!.refunds[0]!;

    // Stripe fails a refund after it succeeded when the card is closed: the money goes back to the
    // merchant. localstripe never does, so the test proxy answers the refunds read for it.
    stack.stripe.serve('/v1/refunds', {
      object: 'list',
      url: '/v1/refunds',
      has_more: false,
      data: [
        {
          id: ours.providerId,
          object: 'refund',
          amount: 1999,
          charge: chargeId,
          currency: 'usd',
          status: 'failed',
          failure_reason: 'expired_or_canceled_card',
          metadata: { refundId: ours.id },
        },
      ],
    });
    try {
      const event = signed('charge.refund.updated', { id: ours.providerId, object: 'refund', charge: chargeId });
      expect((await deliver(event)).body).toEqual({ received: true, outcome: 'recorded' });
    } finally {
      stack.stripe.serve('/v1/refunds', undefined);
    }
    const reopened = await load(id);
    expect(reopened).toMatchObject({ status: 'succeeded', amountRefunded: 0 });
    expect(reopened?.refunds).toEqual([
      expect.objectContaining({ id: ours.id, status: 'failed', failureReason: 'expired_or_canceled_card' }),
    ]);
    // What it did not give back can be refunded again.
    const again = await request(stack.service.app)
      .post(`/api/payments/${id}/refunds`)
      .set('Cookie', admin)
      .send({ reason: 'requested_by_customer' });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ amount: 1999 });
    expect(await load(id)).toMatchObject({ status: 'refunded', amountRefunded: 1999 });
  });

  test('a refund at the provider beyond what is left is refused: logged, counted, the payment unchanged', async () => {
    const { id, chargeId } = await paidPayment(19.99);
    const ours = await request(stack.service.app)
      .post(`/api/payments/${id}/refunds`)
      .set('Cookie', admin)
      .send({ amount: 1500, reason: 'requested_by_customer' });
    expect(ours.status).toBe(201);
    // localstripe refunds more than was charged; Stripe would not.
    await localstripe.refunds.create({ charge: chargeId, amount: 1000 });

    const before = await counted('charge.refunded', 'refused');
    const res = await deliver(signed('charge.refunded', { id: chargeId, object: 'charge' }));
    expect(res.body).toEqual({ received: true, outcome: 'refused' });
    expect(await counted('charge.refunded', 'refused')).toBe(before + 1);
    expect(await load(id)).toMatchObject({ status: 'partially_refunded', amountRefunded: 1500 });
  });

  test('a refund made in the dashboard while one of ours is pending is recorded; ours, no longer covered, fails unasked', async () => {
    const { id, chargeId } = await paidPayment(19.99);
    // Ours is set aside, and the provider is away when it is asked for: it stays pending.
    stack.stripe.failNext(20, 500, 'api_error', '/v1/refunds');
    const ours = await request(stack.service.app)
      .post(`/api/payments/${id}/refunds`)
      .set('Cookie', admin)
      .send({ amount: 1500, reason: 'requested_by_customer' });
    stack.stripe.failNext(0);
    expect(ours.status).toBe(503);
    const oursId = (await load(id))?.refunds[0]?.id as string;
    // Stripe had 1999 left to refund: the dashboard's 1000 went through.
    await localstripe.refunds.create({ charge: chargeId, amount: 1000 });

    const res = await deliver(signed('charge.refunded', { id: chargeId, object: 'charge' }));
    expect(res.body).toEqual({ received: true, outcome: 'recorded' });
    expect(await load(id)).toMatchObject({ status: 'partially_refunded', amountRefunded: 1000 });

    // Ours would take 1500 of the 999 left, which Stripe refuses (localstripe would not): it fails without asking.
    const asked = stack.stripe.refundsMade().length;
    await stack.service.stores.payments.postpone(id, new Date(0));
    await stack.service.reconciler.runOnce();
    const settled = await load(id);
    expect(settled).toMatchObject({ status: 'partially_refunded', amountRefunded: 1000 });
    expect(settled?.refunds.find((r) => r.id === oursId)).toMatchObject({ status: 'failed', amount: 1500 });
    expect(stack.stripe.refundsMade().length).toBe(asked);
  });

  test('a dispute marks the payment disputed, publishes payment:disputed, and stops refunds', async () => {
    const { id, chargeId } = await paidPayment(25);
    const disputeId = disputeOf(chargeId, 2500, 'fraudulent');

    const res = await deliver(signed('charge.dispute.created', { id: disputeId, object: 'dispute', charge: chargeId }));
    expect(res.body).toEqual({ received: true, outcome: 'recorded' });
    expect(await load(id)).toMatchObject({
      status: 'disputed',
      dispute: { id: disputeId, amount: 2500, reason: 'fraudulent' },
    });
    const shown = await request(stack.service.app).get(`/api/payments/${id}`).set('Cookie', admin);
    expect(shown.body).toMatchObject({
      status: 'disputed',
      dispute: { id: disputeId, amount: 2500, reason: 'fraudulent' },
    });
    const [published] = await stack.peer.waitFor((r) => r.subject === 'payment:disputed' && about(id)(r));
    expect(published?.data).toMatchObject({ id, disputeId, amount: 2500, currency: 'usd', reason: 'fraudulent' });

    const again = signed('charge.dispute.created', { id: disputeId, object: 'dispute', charge: chargeId });
    expect((await deliver(again)).body).toEqual({ received: true, outcome: 'unchanged' });
    const refund = await request(stack.service.app)
      .post(`/api/payments/${id}/refunds`)
      .set('Cookie', admin)
      .send({ reason: 'requested_by_customer' });
    expect(refund.status).toBe(409);
    expect(refund.body.errors[0]).toMatchObject({ code: 'payment_not_refundable' });
  });

  test('a dispute of a charge refunded in full is recorded and published all the same', async () => {
    const { id, chargeId } = await paidPayment(14);
    const refunded = await request(stack.service.app)
      .post(`/api/payments/${id}/refunds`)
      .set('Cookie', admin)
      .send({ reason: 'requested_by_customer' });
    expect(refunded.body.payment).toMatchObject({ status: 'refunded' });
    // A card holder's bank may open a dispute after the refund: the merchant answers it with the refund.
    const disputeId = disputeOf(chargeId, 1400, 'product_not_received');
    const res = await deliver(signed('charge.dispute.created', { id: disputeId, object: 'dispute', charge: chargeId }));
    expect(res.body).toEqual({ received: true, outcome: 'recorded' });
    expect(await load(id)).toMatchObject({ status: 'disputed', amountRefunded: 1400, dispute: { id: disputeId } });
    const [published] = await stack.peer.waitFor((r) => r.subject === 'payment:disputed' && about(id)(r));
    expect(published?.data).toMatchObject({ id, disputeId, amount: 1400 });
  });

  test("an event about the provider's objects that are not this service's is answered, and changes nothing", async () => {
    const foreign = await localstripe.paymentIntents.create({
      amount: 900,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    const res = await deliver(signed('payment_intent.succeeded', { id: foreign.id, object: 'payment_intent' }));
    expect(res.body).toEqual({ received: true, outcome: 'not_ours' });
    // A dispute of another system's charge on the same Stripe account.
    const charge = foreign.latest_charge as string;
    const disputeId = disputeOf(charge, 900, 'general');
    const dispute = await deliver(signed('charge.dispute.created', { id: disputeId, object: 'dispute', charge }));
    expect(dispute.body).toEqual({ received: true, outcome: 'not_ours' });
  });

  test('a provider outage while reading back answers 503, so that Stripe sends the event again', async () => {
    const { id, chargeId } = await paidPayment(10);
    await localstripe.refunds.create({ charge: chargeId, amount: 100 });
    const event = signed('charge.refunded', { id: chargeId, object: 'charge' });
    stack.stripe.failNext(10, 500);
    const res = await deliver(event);
    stack.stripe.failNext(0);
    expect(res.status).toBe(503);
    expect(res.body.errors[0]).toMatchObject({ code: 'provider_unavailable' });
    expect((await load(id))?.amountRefunded).toBe(0);

    const later = await deliver(event);
    expect(later.body).toEqual({ received: true, outcome: 'recorded' });
    expect((await load(id))?.amountRefunded).toBe(100);
  });
});
