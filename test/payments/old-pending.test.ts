import { IDEMPOTENCY_WINDOW_MS } from '../../src/domain/payments';
import { createOrder, newUser, useStack } from '../support/harness';

// stripe-mock answers a charge search with a succeeded charge, as Stripe would for a payment that was charged.
const stack = useStack({ name: 'old_pending', subjects: ['payment:created'], proxyTo: 'stripe-mock' });

describe('a payment left pending longer than Stripe keeps idempotency keys', () => {
  test('is settled by looking its charge up by payment id, never by a second create', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 12 });
    const longAgo = new Date(Date.now() - IDEMPOTENCY_WINDOW_MS - 60 * 60 * 1000);
    const payment = await stack.service.stores.payments.insertPending(
      { orderId: order.id, userId: user.id, amount: 1200, currency: 'usd', source: 'tok_visa', idempotencyKey: null },
      longAgo,
      longAgo,
    );
    if (!payment) throw new Error('the order was already held');

    await stack.service.reconciler.runOnce();

    const [search] = stack.stripe.chargeSearches();
    expect(decodeURIComponent(search?.path ?? '')).toContain(`metadata['paymentId']:'${payment.id}'`);
    expect(stack.stripe.chargeAttempts()).toHaveLength(0);
    const settled = await stack.service.stores.payments.findById(payment.id);
    expect(settled).toMatchObject({ status: 'succeeded', stripeId: expect.stringMatching(/^ch_/) });
    await stack.peer.waitFor((e) => e.data.orderId === order.id);
  });
});
