import request from 'supertest';
import { createOrder, newUser, sessionCookie, useStack } from '../support/harness';

const stack = useStack({
  name: 'simulator',
  subjects: ['payment:created', 'payment:failed'],
  env: { PAYMENT_PROVIDER: 'simulator', STRIPE_KEY: '', STRIPE_API_BASE: '' },
});

describe('PAYMENT_PROVIDER=simulator', () => {
  test('tok_visa succeeds and tok_chargeDeclined is declined, deterministically', async () => {
    const user = newUser();
    const declinedOrder = await createOrder(stack.peer, stack.service, { userId: user.id });
    const declined = await request(stack.service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'tok_chargeDeclined', orderId: declinedOrder.id });
    expect(declined.status).toBe(402);
    await stack.peer.waitFor((e) => e.subject === 'payment:failed' && e.data.orderId === declinedOrder.id);

    const paid = await request(stack.service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'tok_visa', orderId: declinedOrder.id });
    expect(paid.status).toBe(201);
    expect(paid.body.stripeId).toMatch(/^ch_sim_/);
    await stack.peer.waitFor((e) => e.subject === 'payment:created' && e.data.orderId === declinedOrder.id);
  });

  test('an unknown token is refused with 400 on the token field', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id });
    const res = await request(stack.service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'tok_nonsense', orderId: order.id });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ field: 'token', code: 'payment_rejected' });
  });
});
