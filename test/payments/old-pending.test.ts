import { IDEMPOTENCY_WINDOW_MS } from '../../src/domain/settle';
import { createOrder, leftPending, newUser, useStack } from '../support/harness';

// stripe-mock answers a charge search with a succeeded charge, as Stripe would for a payment that was charged.
const stack = useStack({ name: 'old_pending', subjects: ['payment:created'], proxyTo: 'stripe-mock' });

describe('a payment left pending longer than Stripe keeps idempotency keys', () => {
  test('is settled by looking its charge up by payment id, never by a second create', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 12 });
    const longAgo = new Date(Date.now() - IDEMPOTENCY_WINDOW_MS - 60 * 60 * 1000);
    const payment = await leftPending(stack.service, { orderId: order.id, userId: user.id, amount: 1200, at: longAgo });

    await stack.service.reconciler.runOnce();

    const [search] = stack.stripe.chargeSearches();
    expect(decodeURIComponent(search?.path ?? '')).toContain(`metadata['paymentId']:'${payment.id}'`);
    expect(stack.stripe.chargeAttempts()).toHaveLength(0);
    const settled = await stack.service.stores.payments.load(payment.id);
    expect(settled).toMatchObject({ status: 'succeeded', chargeId: expect.stringMatching(/^ch_/) });
    await stack.peer.waitFor((e) => e.data.orderId === order.id);
  });
});
