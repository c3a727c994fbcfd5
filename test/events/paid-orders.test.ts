import request from 'supertest';
import { paymentIdFor } from '../../src/domain/payment';
import { createOrder, eventually, newId, newUser, sessionCookie, useStack } from '../support/harness';
import { storedMessages } from '../support/nats-monitor';
import { localstripe } from '../support/localstripe';

const stack = useStack({
  name: 'paid_orders',
  proxyTo: 'localstripe',
  env: { NATS_ACK_WAIT_MS: '1000', EVENT_MAX_DELIVERIES: '3', PROVIDER_TIMEOUT_MS: '2000' },
});

const pay = (user: ReturnType<typeof newUser>, orderId: string) =>
  request(stack.service.app)
    .post('/api/payments')
    .set('Cookie', sessionCookie(user))
    .send({ token: 'pm_card_visa', orderId });

async function consumed(subject: string, outcome: string): Promise<number> {
  const metric = await stack.service.metrics.eventsConsumed.get();
  return metric.values.find((v) => v.labels.subject === subject && v.labels.outcome === outcome)?.value ?? 0;
}

async function refundsOf(paymentId: string) {
  // What was recorded has its events sent or stored, then the outbox is empty.
  await stack.service.stores.payments.idle();
  await eventually(async () => (await stack.service.outbox.backlog()) === 0);
  return (
    (await storedMessages(stack.nats, 'payment:refunded')) as { paymentId: string; amount: number; reason: string }[]
  ).filter((e) => e.paymentId === paymentId);
}

describe('an order cancelled after its payment went through', () => {
  test('is refunded in full, reason order_cancelled, with payment:refunded; counted; a redelivery refunds nothing more', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 42 });
    const paid = await pay(user, order.id);
    expect(paid.status).toBe(201);
    const before = await consumed('order:cancelled', 'refunded_on_cancel');

    // As the ticketing orders service sends a user's cancel: version 0.
    await stack.peer.publish('order:cancelled', { id: order.id, version: 0, ticket: { id: order.ticket.id } });
    const refunded = await eventually(async () => {
      const p = await stack.service.stores.payments.load(paid.body.id as string);
      return p?.status === 'refunded' && p;
    });
    expect(refunded.refunds).toEqual([
      expect.objectContaining({ amount: 4200, reason: 'order_cancelled', status: 'succeeded' }),
    ]);
    expect(await consumed('order:cancelled', 'refunded_on_cancel')).toBe(before + 1);
    const charge = await localstripe.charges.retrieve(paid.body.stripeId as string);
    expect(charge.amount_refunded).toBe(4200);

    await stack.peer.publish('order:cancelled', { id: order.id, version: 1, ticket: { id: order.ticket.id } });
    await eventually(async () => (await consumed('order:cancelled', 'duplicate')) > 0);
    expect(await refundsOf(paid.body.id as string)).toEqual([
      expect.objectContaining({ amount: 4200, reason: 'order_cancelled' }),
    ]);
    expect((await pay(user, order.id)).body.errors[0].code).toBe('order_cancelled');
  });

  test('while its charge is in flight: refunded once the payment succeeds', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 9 });
    const release = stack.stripe.hold();
    const attempts = stack.stripe.chargeAttempts().length;
    const paying = pay(user, order.id).then((r) => r);
    await stack.stripe.chargeArrived(attempts + 1);
    await stack.peer.publish('order:cancelled', { id: order.id, version: 1, ticket: { id: order.ticket.id } });
    await eventually(async () => (await stack.service.stores.orders.get(order.id))?.status === 'cancelled');
    release();
    const paid = await paying;
    expect(paid.status).toBe(201);
    await eventually(
      async () => (await stack.service.stores.payments.load(paid.body.id as string))?.status === 'refunded',
      15_000,
    );
    expect(await refundsOf(paid.body.id as string)).toHaveLength(1);
  });
  test('while its payment stays pending past the retries of the cancel: refunded once the reconciler charges it', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 12 });
    stack.stripe.failNext(100, 500);
    expect((await pay(user, order.id)).status).toBe(503);
    const id = paymentIdFor(order.id, 0);
    expect((await stack.service.stores.payments.load(id))?.status).toBe('pending');

    const handled = async () =>
      (await Promise.all(['cancelled', 'duplicate', 'parked'].map((o) => consumed('order:cancelled', o)))).reduce(
        (a, b) => a + b,
      );
    const before = await handled();
    await stack.peer.publish('order:cancelled', { id: order.id, version: 1, ticket: { id: order.ticket.id } });
    await eventually(async () => (await handled()) > before, 15_000);

    // The provider is back: the reconciler charges the payment, and gives the money of the cancelled order back.
    stack.stripe.failNext(0);
    await stack.service.stores.payments.postpone(id, new Date(0));
    await stack.service.reconciler.runOnce();
    const settled = await stack.service.stores.payments.load(id);
    expect(settled).toMatchObject({ status: 'refunded', amountRefunded: 1200 });
    expect(settled?.refunds).toEqual([expect.objectContaining({ reason: 'order_cancelled', status: 'succeeded' })]);
    expect(await refundsOf(id)).toHaveLength(1);
  });

  test('whose refund the provider refuses: the cancel is taken, the refusal recorded and counted, not asked again', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 15 });
    const paid = await pay(user, order.id);
    expect(paid.status).toBe(201);
    const before = await consumed('order:cancelled', 'refund_refused');
    const asked = stack.stripe.refundAttempts().length;
    // Stripe refuses a refund it will never make (a disputed charge, say) with a 400.
    stack.stripe.failNext(20, 400, 'invalid_request_error', '/v1/refunds');
    try {
      await stack.peer.publish('order:cancelled', { id: order.id, version: 0, ticket: { id: order.ticket.id } });
      await eventually(async () => (await consumed('order:cancelled', 'refund_refused')) === before + 1);
      // Past the deliveries the cancel would have had, were it retried (ack wait 1 s, 3 deliveries).
      await new Promise((r) => setTimeout(r, 5000));
    } finally {
      stack.stripe.failNext(0);
    }
    expect(stack.stripe.refundAttempts().length - asked).toBe(1);
    expect((await stack.service.stores.payments.load(paid.body.id as string))?.refunds).toEqual([
      expect.objectContaining({ amount: 1500, reason: 'order_cancelled', status: 'failed' }),
    ]);
    expect((await stack.service.stores.deadLetters.list()).filter((d) => d.payload.includes(order.id))).toEqual([]);
    expect((await stack.service.stores.orders.get(order.id))?.status).toBe('cancelled');
  });
});

describe('an order paid elsewhere', () => {
  test('payment:created from another payments service marks it paid: a payment for it is refused with 409, nothing charged', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id });
    await stack.peer.publish('payment:created', { id: newId(), orderId: order.id, stripeId: 'ch_elsewhere' });
    await eventually(async () => (await stack.service.stores.orders.get(order.id))?.paidBy !== null);
    const charges = stack.stripe.chargeAttempts().length;
    const res = await pay(user, order.id);
    expect(res.status).toBe(409);
    expect(res.body.errors[0].code).toBe('order_already_paid');
    expect(stack.stripe.chargeAttempts()).toHaveLength(charges);
  });

  test('our own payment:created writes nothing: the payment already holds the order; a second payment is refused', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id });
    const before = await consumed('payment:created', 'ours');
    const paid = await pay(user, order.id);
    expect(paid.status).toBe(201);
    await eventually(async () => (await consumed('payment:created', 'ours')) === before + 1);
    expect((await stack.service.stores.orders.get(order.id))?.paidBy).toBeNull();
    const charges = stack.stripe.chargeAttempts().length;
    const again = await pay(user, order.id);
    expect(again.status).toBe(409);
    expect(again.body.errors[0].code).toBe('order_already_paid');
    expect(stack.stripe.chargeAttempts()).toHaveLength(charges);
  });
});
