import request from 'supertest';
import { createOrder, newUser, sessionCookie, uniqueName, useStack } from '../support/harness';

const stack = useStack({ name: 'card_token', subjects: ['payment:created'] });

/** Every document of every collection of the service's database, as text. */
async function everything(): Promise<string> {
  const db = stack.service.db.connection.db!;
  const names = (await db.listCollections().toArray()).map((c) => c.name);
  const docs = await Promise.all(names.map((n) => db.collection(n).find({}).toArray()));
  return JSON.stringify(docs);
}

describe('the card token', () => {
  test('is kept only while the payment is pending: a settled payment leaves it nowhere in the database', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id });
    const token = `tok_${uniqueName('visa')}`;
    const res = await request(stack.service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token, orderId: order.id });
    expect(res.status).toBe(201);
    // The answer comes once the outcome is recorded; the payment's stored copy follows at once.
    await stack.service.stores.payments.idle();
    expect(await everything()).not.toContain(token);
  });
});
