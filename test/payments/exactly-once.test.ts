import request from 'supertest';
import { createOrder, eventually, newUser, paymentsOf, sessionCookie, uniqueName, useStack } from '../support/harness';
import { storedMessages } from '../support/nats-monitor';

const stack = useStack({ name: 'exactly_once', subjects: ['payment:created'], proxyTo: 'stripe-mock' });

describe('exactly one charge per order', () => {
  test('twenty concurrent POSTs for one order: one charge, one 201, one payment:created, clear 4xx for the rest', async () => {
    const user = newUser();
    const cookie = sessionCookie(user);
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 49.99 });
    const before = stack.stripe.chargesMade().length;

    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const req = request(stack.service.app).post('/api/payments').set('Cookie', cookie);
        // A third with no key, the rest each with a key of its own.
        return (i % 3 === 0 ? req : req.set('Idempotency-Key', uniqueName(`k${i}`))).send({
          token: 'tok_visa',
          orderId: order.id,
        });
      }),
    );

    const created = responses.filter((r) => r.status === 201);
    expect(created).toHaveLength(1);
    const refused = responses.filter((r) => r.status !== 201);
    for (const r of refused) {
      expect(r.status).toBe(409);
      expect(r.body.errors[0].code).toBe('order_already_paid');
    }
    expect(stack.stripe.chargesMade().length - before).toBe(1);

    const payments = await paymentsOf(stack.service, order.id);
    expect(payments).toHaveLength(1);
    expect(payments[0]?.status).toBe('succeeded');
    expect(payments[0]?.amount).toBe(4999);

    // Counted where other services read them: the messages the server stored.
    await eventually(async () => (await stack.service.outbox.backlog()) === 0);
    const stored = (await storedMessages(stack.nats, 'payment:created')) as { orderId: string }[];
    expect(stored.filter((e) => e.orderId === order.id)).toHaveLength(1);
  });
});
