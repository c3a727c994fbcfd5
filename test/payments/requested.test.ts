import request from 'supertest';
import Stripe from 'stripe';
import { paymentIdForRequest } from '../../src/domain/payment';
import {
  createOrder,
  eventually,
  newUser,
  sessionCookie,
  uniqueName,
  useStack,
  type Received,
} from '../support/harness';
import { localstripe } from '../support/localstripe';
import { storedMessages } from '../support/nats-monitor';

// localstripe gives PaymentIntents real outcomes (stripe-mock answers every one requires_payment_method).

// A clock the test moves, so that a payment left pending comes due for the reconciler without waiting.
let ahead = 0;
const clock = { now: () => new Date(Date.now() + ahead) };

const stack = useStack({
  name: 'requested',
  proxyTo: 'localstripe',
  subjects: ['payment:created', 'payment:failed', 'notification:requested'],
  env: { PROVIDER_TIMEOUT_MS: '2000', PAYMENTS_RECONCILE_AFTER_MS: '5000', NATS_ACK_WAIT_MS: '1000' },
  clock,
});

const requestId = () => uniqueName('req');
const about = (id: string) => (r: Received) =>
  r.data.requestId === id || (r.data.payment as { requestId?: string })?.requestId === id;

async function consumed(subject: string, outcome: string): Promise<number> {
  const metric = await stack.service.metrics.eventsConsumed.get();
  return metric.values.find((v) => v.labels.subject === subject && v.labels.outcome === outcome)?.value ?? 0;
}

/** Messages of the subject handled so far, whatever their outcome. */
async function consumedAll(subject: string): Promise<number> {
  const metric = await stack.service.metrics.eventsConsumed.get();
  return metric.values.filter((v) => v.labels.subject === subject).reduce((n, v) => n + v.value, 0);
}

const paymentOf = (id: string) => stack.service.stores.payments.load(paymentIdForRequest(id));

describe('payment:requested', () => {
  test('charges the saved method off-session once, and tells payment:created and notification:requested with the requestId', async () => {
    const customer = await localstripe.customers.create({ email: 'payer@test.io' });
    const id = requestId();
    await stack.peer.publish('payment:requested', {
      requestId: id,
      userId: 'user-billing-1',
      email: 'payer@test.io',
      customerId: customer.id,
      paymentMethod: 'pm_card_visa',
      amount: 2500,
      currency: 'EUR',
      reference: { type: 'invoice', id: 'in-42' },
      description: 'June',
    });

    const [created] = await stack.peer.waitFor((r) => r.subject === 'payment:created' && about(id)(r));
    expect(created?.data).toMatchObject({ requestId: id, userId: 'user-billing-1', amount: 2500, currency: 'eur' });
    expect(created?.data).not.toHaveProperty('orderId');
    const [note] = await stack.peer.waitFor((r) => r.subject === 'notification:requested' && about(id)(r));
    expect(note?.data).toMatchObject({
      userId: 'user-billing-1',
      email: 'payer@test.io',
      kind: 'payment_succeeded',
      payment: { id: created?.data.id, requestId: id, amount: 2500, currency: 'eur', status: 'succeeded' },
    });
    expect(note?.data.eventId).not.toBe(created?.data.eventId);

    // What the provider was asked, and what it did.
    const [call] = stack.stripe.intentsMade().filter((c) => c.body.includes(encodeURIComponent(id)));
    const asked = new URLSearchParams(call?.body);
    expect(
      Object.fromEntries(
        ['off_session', 'confirm', 'payment_method', 'customer', 'amount', 'currency'].map((k) => [k, asked.get(k)]),
      ),
    ).toEqual({
      off_session: 'true',
      confirm: 'true',
      payment_method: 'pm_card_visa',
      customer: customer.id,
      amount: '2500',
      currency: 'eur',
    });
    expect(call?.idempotencyKey).toBe(`payment-${String(created?.data.id)}`);
    const charge = await localstripe.charges.retrieve(created?.data.stripeId as string);
    expect(charge).toMatchObject({ status: 'succeeded', amount: 2500 });

    const stored = await paymentOf(id);
    expect(stored).toMatchObject({
      status: 'succeeded',
      orderId: null,
      email: 'payer@test.io',
      request: { id, customerId: customer.id, reference: { type: 'invoice', id: 'in-42' }, description: 'June' },
      source: null,
    });
  });

  test('delivered three times, it is one payment and one charge', async () => {
    const id = requestId();
    const event = { requestId: id, userId: 'u-dup', paymentMethod: 'pm_card_visa', amount: 700, currency: 'usd' };
    const before = await consumed('payment:requested', 'duplicate');
    await stack.peer.publish('payment:requested', event);
    await stack.peer.waitFor((r) => r.subject === 'payment:created' && about(id)(r));
    await stack.peer.publish('payment:requested', event);
    await stack.peer.publish('payment:requested', event);
    await eventually(async () => (await consumed('payment:requested', 'duplicate')) === before + 2);

    expect(stack.stripe.intentAttempts().filter((c) => c.body.includes(encodeURIComponent(id)))).toHaveLength(1);
    // Counted where another service would read them: what the server stored once all is sent.
    await stack.service.stores.payments.idle();
    await eventually(async () => (await stack.service.outbox.backlog()) === 0);
    const stored = (await storedMessages(stack.nats, 'payment:created')) as Received['data'][];
    expect(stored.filter((d) => d.requestId === id)).toHaveLength(1);
  });

  test('a price in major units becomes exact minor units in its currency', async () => {
    const yen = requestId();
    const dinar = requestId();
    await stack.peer.publish('payment:requested', {
      requestId: yen,
      userId: 'u',
      paymentMethod: 'pm_card_visa',
      price: 1500,
      currency: 'jpy',
    });
    await stack.peer.publish('payment:requested', {
      requestId: dinar,
      userId: 'u',
      paymentMethod: 'pm_card_visa',
      price: 1.5,
      currency: 'KWD',
    });
    const [y] = await stack.peer.waitFor((r) => r.subject === 'payment:created' && about(yen)(r));
    const [d] = await stack.peer.waitFor((r) => r.subject === 'payment:created' && about(dinar)(r));
    expect([y?.data.amount, y?.data.currency, d?.data.amount, d?.data.currency]).toEqual([1500, 'jpy', 1500, 'kwd']);
  });

  test('a declined card is an outcome: payment:failed with its decline code, acked, never charged again', async () => {
    const id = requestId();
    const event = {
      requestId: id,
      userId: 'u-dec',
      email: 'd@test.io',
      paymentMethod: 'pm_card_chargeCustomerFail',
      amount: 900,
      currency: 'usd',
    };
    await stack.peer.publish('payment:requested', event);
    const [failed] = await stack.peer.waitFor((r) => r.subject === 'payment:failed' && about(id)(r));
    expect(failed?.data).toMatchObject({
      requestId: id,
      reason: 'Your card was declined.',
      declineCode: 'card_declined',
    });
    const [note] = await stack.peer.waitFor((r) => r.subject === 'notification:requested' && about(id)(r));
    expect(note?.data).toMatchObject({ kind: 'payment_failed', email: 'd@test.io', payment: { status: 'failed' } });
    expect(await paymentOf(id)).toMatchObject({ status: 'failed', declineCode: 'card_declined' });

    const duplicates = await consumed('payment:requested', 'duplicate');
    await stack.peer.publish('payment:requested', event);
    await eventually(async () => (await consumed('payment:requested', 'duplicate')) === duplicates + 1);
    expect(stack.stripe.intentAttempts().filter((c) => c.body.includes(encodeURIComponent(id)))).toHaveLength(1);
    expect(await paymentOf(id)).toMatchObject({ status: 'failed', version: 1 });
  });

  test('a card that needs its holder (3-D Secure) fails with reason authentication_required', async () => {
    const card = await localstripe.paymentMethods.create({
      type: 'card',
      card: { number: '4000002500003155', exp_month: 12, exp_year: 2034, cvc: '123' },
    } as Stripe.PaymentMethodCreateParams);
    const id = requestId();
    await stack.peer.publish('payment:requested', {
      requestId: id,
      userId: 'u-3ds',
      paymentMethod: card.id,
      amount: 1200,
      currency: 'usd',
    });
    const [failed] = await stack.peer.waitFor((r) => r.subject === 'payment:failed' && about(id)(r));
    expect(failed?.data).toMatchObject({ reason: 'authentication_required', declineCode: 'authentication_required' });
  });

  test('a provider outage leaves it pending without redeliveries; the reconciler charges it once, under the same key', async () => {
    const id = requestId();
    stack.stripe.failNext(10, 500);
    await stack.peer.publish('payment:requested', {
      requestId: id,
      userId: 'u-out',
      paymentMethod: 'pm_card_visa',
      amount: 3100,
      currency: 'usd',
    });
    const pending = await eventually(async () => {
      const p = await paymentOf(id);
      return p?.status === 'pending' && (await consumed('payment:requested', 'pending')) > 0 ? p : null;
    });
    const handled = await consumedAll('payment:requested');
    stack.stripe.failNext(0);
    // Acked: past several ack waits, the message has not come back (it would now be charged).
    await new Promise((r) => setTimeout(r, 2500));
    expect(await consumedAll('payment:requested')).toBe(handled);
    expect((await paymentOf(id))?.status).toBe('pending');

    ahead += 60_000;
    await stack.service.reconciler.runOnce();
    const [created] = await stack.peer.waitFor((r) => r.subject === 'payment:created' && about(id)(r));
    expect(created?.data).toMatchObject({ id: pending.id, amount: 3100 });
    const attempts = stack.stripe.intentAttempts().filter((c) => c.body.includes(encodeURIComponent(id)));
    expect(new Set(attempts.map((a) => a.idempotencyKey))).toEqual(new Set([`payment-${pending.id}`]));
    expect(stack.stripe.intentsMade().filter((c) => c.body.includes(encodeURIComponent(id)))).toHaveLength(1);
  });

  test('one the provider answered processing is looked at again by the reconciler, not answered processing by its key for a day', async () => {
    const id = requestId();
    // A bank debit, say: Stripe answers processing, and a repeat under the key answers that again.
    let looked = '';
    stack.stripe.rewriteNext('/v1/payment_intents', (intent) => {
      const processing = { ...intent, status: 'processing', latest_charge: null };
      // Still processing when looked at right after.
      looked = `/v1/payment_intents/${String(intent.id)}`;
      stack.stripe.serve(looked, processing);
      return processing;
    });
    const before = await consumed('payment:requested', 'pending');
    await stack.peer.publish('payment:requested', {
      requestId: id,
      userId: 'u-processing',
      paymentMethod: 'pm_card_visa',
      amount: 4100,
      currency: 'usd',
    });
    const pending = await eventually(async () => {
      const p = await paymentOf(id);
      return p?.status === 'pending' && (await consumed('payment:requested', 'pending')) > before ? p : null;
    });

    // The debit goes through; the reconciler's ask under the key is answered processing again.
    stack.stripe.serve(looked, undefined);
    ahead += 60_000;
    await stack.service.reconciler.runOnce();
    expect(await paymentOf(id)).toMatchObject({ status: 'succeeded', amount: 4100 });
    const [created] = await stack.peer.waitFor((r) => r.subject === 'payment:created' && about(id)(r));
    expect(created?.data).toMatchObject({ id: pending.id });
    expect(stack.stripe.intentsMade().filter((c) => c.body.includes(encodeURIComponent(id)))).toHaveLength(1);
  });

  test('a payload that can never be paid is parked: amount and price together, or a request id reused for another amount', async () => {
    const id = requestId();
    await stack.peer.publish('payment:requested', {
      requestId: id,
      userId: 'u-bad',
      paymentMethod: 'pm_card_visa',
      amount: 100,
      price: 1,
      currency: 'usd',
    });
    const reused = requestId();
    await stack.peer.publish('payment:requested', {
      requestId: reused,
      userId: 'u-re',
      paymentMethod: 'pm_card_visa',
      amount: 100,
      currency: 'usd',
    });
    await stack.peer.waitFor((r) => r.subject === 'payment:created' && about(reused)(r));
    await stack.peer.publish('payment:requested', {
      requestId: reused,
      userId: 'u-re',
      paymentMethod: 'pm_card_visa',
      amount: 5000,
      currency: 'usd',
    });

    const parked = await eventually(async () => {
      const all = await stack.service.stores.deadLetters.list();
      const mine = all.filter(
        (d) => d.subject === 'payment:requested' && [id, reused].some((r) => JSON.stringify(d.payload).includes(r)),
      );
      return mine.length === 2 ? mine : null;
    });
    expect(parked.map((d) => d.reason).join('\n')).toMatch(/amount.*price|price.*amount/);
    expect(parked.map((d) => d.reason).join('\n')).toMatch(/already paid for something else/);
    expect(await paymentOf(reused)).toMatchObject({ amount: 100, status: 'succeeded' });
  });
});

describe('payment.createInitial (the reference billing service)', () => {
  test("is the same use case: the subscription's id is the request id", async () => {
    const subId = uniqueName('sub');
    await stack.peer.publish('payment.createInitial', {
      subId,
      user: { id: 'billing-user', email: 'sub@test.io', paymentMethod: 'pm_card_visa' },
      product: { price: 9.99, currency: 'usd' },
    });
    const [created] = await stack.peer.waitFor((r) => r.subject === 'payment:created' && about(subId)(r));
    expect(created?.data).toMatchObject({ requestId: subId, userId: 'billing-user', amount: 999 });
    expect(await paymentOf(subId)).toMatchObject({
      email: 'sub@test.io',
      request: { id: subId, reference: { type: 'subscription', id: subId } },
    });
  });
});

describe('notification:requested for a payment in the browser', () => {
  test("carries the email of the payer's session and the order", async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 12 });
    const res = await request(stack.service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'pm_card_visa', orderId: order.id });
    expect(res.status).toBe(201);
    const [note] = await stack.peer.waitFor(
      (r) => r.subject === 'notification:requested' && (r.data.payment as { id: string }).id === res.body.id,
    );
    expect(note?.data).toMatchObject({
      userId: user.id,
      email: user.email,
      kind: 'payment_succeeded',
      payment: { orderId: order.id, amount: 1200, currency: 'usd', status: 'succeeded' },
    });
  });
});
