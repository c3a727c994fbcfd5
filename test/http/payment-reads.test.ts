import request from 'supertest';
import { createOrder, firstPayment, newId, newUser, sessionCookie, useStack, type TestUser } from '../support/harness';

// The service's clock, moved forward between payments so that each has its own created time.
let offsetMs = 0;
const stack = useStack({ name: 'reads', clock: { now: () => new Date(Date.now() + offsetMs) } });
const admin = sessionCookie(newUser('admin'));
const get = (path: string, cookie: string) => request(stack.service.app).get(path).set('Cookie', cookie);

const alice = newUser();
const bob = newUser();
/** Every payment made here, oldest first: [user, payment id, order id, created]. */
const made: { user: TestUser; id: string; orderId: string; created: number }[] = [];

async function pay(user: TestUser, token = 'tok_visa') {
  const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 10 });
  offsetMs += 2000;
  const res = await request(stack.service.app)
    .post('/api/payments')
    .set('Cookie', sessionCookie(user))
    .send({ token, orderId: order.id });
  const id = res.body.id as string;
  made.push({ user, id, orderId: order.id, created: Date.parse(res.body.createdAt as string) });
  return id;
}

beforeAll(async () => {
  for (let i = 0; i < 4; i++) await pay(alice);
  for (let i = 0; i < 3; i++) await pay(bob);
  await pay(alice);
}, 60_000);

const ids = (res: request.Response) => (res.body.data as { id: string }[]).map((p) => p.id);
const newestFirst = (user?: TestUser) =>
  made
    .filter((m) => !user || m.user === user)
    .map((m) => m.id)
    .reverse();

describe('GET /api/payments', () => {
  test("a user gets their own payments, newest first, in Stripe's list shape, and never a card token", async () => {
    const res = await get('/api/payments', sessionCookie(alice));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ object: 'list', has_more: false, url: '/api/payments' });
    expect(ids(res)).toEqual(newestFirst(alice));
    expect(res.body.data[0]).toMatchObject({
      userId: alice.id,
      status: 'succeeded',
      amount: 1000,
      amountRefunded: 0,
      currency: 'usd',
    });
    expect(JSON.stringify(res.body)).not.toMatch(/tok_visa|requestKey|source/);
  });

  test("an admin gets everyone's, and filters by userId, orderId, status and created", async () => {
    const all = await get('/api/payments?limit=100', admin);
    expect(ids(all).filter((id) => made.some((m) => m.id === id))).toEqual(newestFirst());
    expect(ids(await get(`/api/payments?userId=${bob.id}`, admin))).toEqual(newestFirst(bob));
    const one = made[2]!;
    expect(ids(await get(`/api/payments?orderId=${one.orderId}`, admin))).toEqual([one.id]);
    expect(ids(await get(`/api/payments?userId=${alice.id}&status=failed`, admin))).toEqual([]);
    const from = Math.floor(made[1]!.created / 1000);
    const to = Math.floor(made[4]!.created / 1000);
    const window = await get(`/api/payments?userId=${alice.id}&created[gte]=${from}&created[lt]=${to}`, admin);
    expect(ids(window)).toEqual(
      made
        .filter((m) => m.user === alice && m.created >= from * 1000 && m.created < to * 1000)
        .map((m) => m.id)
        .reverse(),
    );
  });

  test('pages: limit, then starting_after onwards and ending_before back', async () => {
    const all = newestFirst(alice);
    const first = await get('/api/payments?limit=2', sessionCookie(alice));
    expect(ids(first)).toEqual(all.slice(0, 2));
    expect(first.body.has_more).toBe(true);
    const second = await get(`/api/payments?limit=2&starting_after=${all[1]}`, sessionCookie(alice));
    expect(ids(second)).toEqual(all.slice(2, 4));
    const last = await get(`/api/payments?limit=2&starting_after=${all[3]}`, sessionCookie(alice));
    expect(ids(last)).toEqual(all.slice(4));
    expect(last.body.has_more).toBe(false);
    const back = await get(`/api/payments?limit=2&ending_before=${all[4]}`, sessionCookie(alice));
    expect(ids(back)).toEqual(all.slice(2, 4));
    expect(back.body.has_more).toBe(true);
  });

  test('refuses a limit outside 1 to 100, both cursors, a cursor not in the list, and bad filters with 400', async () => {
    for (const q of [
      'limit=0',
      'limit=101',
      'limit=x',
      'status=lost',
      'orderId=nope',
      'created[gt]=-1',
      'created[lte]=soon',
      // Past any date a Date can hold: an invalid bound would turn the filter inside out.
      'created[lt]=9000000000000',
      // A parameter given twice is not a list: it is refused, not taken as an array.
      `orderId=${made[0]!.orderId}&orderId=${made[0]!.orderId}`,
      'limit=5&limit=6',
      `status=succeeded&status=succeeded`,
      `starting_after=${made[0]!.id}&starting_after=${made[1]!.id}`,
    ]) {
      const res = await get(`/api/payments?${q}`, admin);
      expect({ q, status: res.status }).toEqual({ q, status: 400 });
      expect(res.body.errors[0].code).toBe('invalid_field');
    }
    const [a, b] = newestFirst(alice);
    expect((await get(`/api/payments?starting_after=${a}&ending_before=${b}`, admin)).status).toBe(400);
    expect((await get(`/api/payments?starting_after=${newId()}`, admin)).status).toBe(400);
    // Another user's payment is not a page of this user's list.
    expect((await get(`/api/payments?starting_after=${newestFirst(bob)[0]}`, sessionCookie(alice))).status).toBe(400);
    expect((await get('/api/payments?limit=100', admin)).status).toBe(200);
  });

  test('a user naming another userId gets 401; naming themselves is fine; no session 401', async () => {
    expect((await get(`/api/payments?userId=${bob.id}`, sessionCookie(alice))).status).toBe(401);
    expect(ids(await get(`/api/payments?userId=${alice.id}`, sessionCookie(alice)))).toEqual(newestFirst(alice));
    expect((await request(stack.service.app).get('/api/payments')).status).toBe(401);
  });
});

describe('GET /api/payments/:id', () => {
  test('the payer and an admin get it with its amounts, refunds and history; another user 401; unknown 404', async () => {
    const { id, orderId } = made[0]!;
    const mine = await get(`/api/payments/${id}`, sessionCookie(alice));
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({
      id,
      orderId,
      userId: alice.id,
      status: 'succeeded',
      amount: 1000,
      amountRefunded: 0,
      currency: 'usd',
      refunds: [],
    });
    expect(mine.body.history.map((h: { status: string }) => h.status)).toEqual(['pending', 'succeeded']);
    expect(mine.body.stripeId).toMatch(/^ch_/);
    expect(JSON.stringify(mine.body)).not.toMatch(/tok_visa|requestKey|source/);
    expect((await get(`/api/payments/${id}`, admin)).body.id).toBe(id);
    expect((await get(`/api/payments/${id}`, sessionCookie(bob))).status).toBe(401);
    expect((await get(`/api/payments/${newId()}`, admin)).status).toBe(404);
    expect((await get('/api/payments/not-an-id', admin)).status).toBe(400);
  });
});

describe('a payment not settled yet (its request stopped before the charge)', () => {
  test('is read by its payer, listed, filtered and paged with the settled ones', async () => {
    const order = await createOrder(stack.peer, stack.service, { userId: alice.id, price: 10 });
    offsetMs += 2000;
    const at = new Date(Date.now() + offsetMs);
    // Not the reconciler's yet.
    const dueAt = new Date(at.getTime() + 3_600_000);
    const pending = firstPayment({ orderId: order.id, userId: alice.id, amount: 1000, at, dueAt });
    expect(await stack.service.stores.payments.start(pending)).toBe(true);
    const settled = newestFirst(alice);

    const mine = await get(`/api/payments/${pending.id}`, sessionCookie(alice));
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ id: pending.id, status: 'pending', amount: 1000 });
    expect(JSON.stringify(mine.body)).not.toMatch(/tok_visa|source/);
    const listed = await get('/api/payments', sessionCookie(alice));
    expect(ids(listed)).toEqual([pending.id, ...settled]);
    expect(listed.body.data[0]).toMatchObject({ status: 'pending' });
    expect(JSON.stringify(listed.body)).not.toMatch(/tok_visa|source/);
    expect(ids(await get(`/api/payments?status=pending&userId=${alice.id}`, admin))).toEqual([pending.id]);
    expect(ids(await get(`/api/payments?orderId=${order.id}`, admin))).toEqual([pending.id]);

    const first = await get('/api/payments?limit=1', sessionCookie(alice));
    expect([ids(first), first.body.has_more]).toEqual([[pending.id], true]);
    expect(ids(await get(`/api/payments?limit=2&starting_after=${pending.id}`, sessionCookie(alice)))).toEqual(
      settled.slice(0, 2),
    );
    expect(ids(await get(`/api/payments?ending_before=${settled[0]}`, sessionCookie(alice)))).toEqual([pending.id]);
  });
});
