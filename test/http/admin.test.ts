import request from 'supertest';
import { eventually, newId, newUser, sessionCookie, useStack } from '../support/harness';
import { expectDocumented, loadDocument } from '../support/openapi';

beforeAll(loadDocument);

const stack = useStack({ name: 'admin' });
const admin = sessionCookie(newUser('admin'));
const app = () => request(stack.service.app);

/** A message as the listeners park it: stored whole in dead_letters. */
async function parked(id: string, subject: string, payload: string, parkedAt: Date) {
  await stack.service.stores.deadLetters.park({
    id,
    subject,
    payload,
    reason: 'test',
    deliveries: 3,
    publishedAt: new Date(parkedAt.getTime() - 1000),
    parkedAt,
  });
}

describe('GET /api/payments/admin/dead-letters', () => {
  test('lists parked messages newest first, page by page, without the payment methods they carry', async () => {
    const base = Date.now();
    const requested = JSON.stringify({ requestId: 'r1', userId: 'u1', paymentMethod: 'pm_card_visa', amount: 500 });
    await parked('payment:requested#1', 'payment:requested', requested, new Date(base - 3000));
    // Cut short (the usual reason a message is parked), it still names a payment method.
    const cut = '{"requestId":"r2","paymentMethod" : "pm_card_mastercard","amo';
    await parked('order:created#1', 'order:created', cut, new Date(base - 2000));
    await parked('order:cancelled#1', 'order:cancelled', '{"id":"x"}', new Date(base - 1000));

    const first = await app().get('/api/payments/admin/dead-letters?limit=2').set('Cookie', admin);
    expect(first.status).toBe(200);
    expectDocumented(first, '/api/payments/admin/dead-letters', 'get');
    expect(first.body.data.map((d: { id: string }) => d.id)).toEqual(['order:cancelled#1', 'order:created#1']);
    expect(first.body.has_more).toBe(true);
    expect(first.body.data[1].payload).toBe('{"requestId":"r2","paymentMethod" : "[redacted]","amo');

    const next = await app()
      .get('/api/payments/admin/dead-letters')
      .query({ limit: 2, starting_after: 'order:created#1' })
      .set('Cookie', admin);
    expect(next.body.data.map((d: { id: string }) => d.id)).toEqual(['payment:requested#1']);
    expect(next.body.has_more).toBe(false);
    expect(JSON.parse(next.body.data[0].payload)).toEqual({ ...JSON.parse(requested), paymentMethod: '[redacted]' });
    expect(JSON.stringify([first.body, next.body])).not.toMatch(/pm_card_visa|pm_card_mastercard/);
  });

  test('answers 401 to a user who is not an admin, and 400 to a cursor not in the list', async () => {
    const user = await app().get('/api/payments/admin/dead-letters').set('Cookie', sessionCookie(newUser()));
    expect(user.status).toBe(401);
    expectDocumented(user, '/api/payments/admin/dead-letters', 'get');
    const anonymous = await app().get('/api/payments/admin/dead-letters');
    expect(anonymous.status).toBe(401);
    const bad = await app().get('/api/payments/admin/dead-letters?starting_after=nope').set('Cookie', admin);
    expect(bad.status).toBe(400);
    expectDocumented(bad, '/api/payments/admin/dead-letters', 'get');
  });
});

describe('POST /api/payments/admin/dead-letters/:id/replay', () => {
  const path = '/api/payments/admin/dead-letters/{id}/replay';
  // As an admin replays: with the bus connected (the service's readiness says so). A Kafka
  // consumer that is still joining its group, on a loaded machine, leaves it unconnected for
  // a few seconds after the start, and the route rightly answers 503 then.
  beforeEach(() => eventually(async () => stack.service.bus.isConnected(), 30_000));
  const replay = (id: string, cookie = admin) =>
    app()
      .post(`/api/payments/admin/dead-letters/${encodeURIComponent(id)}/replay`)
      .set('Cookie', cookie);

  test('publishes the message again on its subject, the service handles it, and it leaves the list', async () => {
    const order = {
      id: newId(),
      version: 0,
      status: 'created',
      userId: newId(),
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
      ticket: { id: newId(), price: 12 },
    };
    await parked('order:created#99', 'order:created', JSON.stringify(order), new Date());
    expect(await stack.service.stores.orders.get(order.id)).toBeNull();

    expect(await replay('order:created#99', sessionCookie(newUser())).then((r) => r.status)).toBe(401);
    // A 503 says the bus did not take it now (a Kafka broker on a loaded machine can refuse a send
    // while connected): the letter stays parked, and the admin replays it again.
    const res = await eventually(async () => {
      const r = await replay('order:created#99');
      if (r.status !== 503) return r;
      expect(await stack.service.stores.deadLetters.get('order:created#99')).not.toBeNull();
      return null;
    }, 30_000);
    expect(res.status).toBe(200);
    expectDocumented(res, path, 'post');
    expect(res.body).toMatchObject({ id: 'order:created#99', subject: 'order:created', status: 'replayed' });

    const stored = await eventually(() => stack.service.stores.orders.get(order.id));
    expect(stored).toMatchObject({ id: order.id, amount: 1200 });
    expect(await stack.service.stores.deadLetters.get('order:created#99')).toBeNull();
    expect((await replay('order:created#99')).status).toBe(404);
  });

  test('refuses a payload that is not a JSON object with 400 and keeps it parked; 404 for an unknown id', async () => {
    await parked('order:created#100', 'order:created', '{oops', new Date());
    const res = await replay('order:created#100');
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ code: 'not_replayable' });
    expectDocumented(res, path, 'post');
    expect(await stack.service.stores.deadLetters.get('order:created#100')).not.toBeNull();
    // JSON, but no event: it could only be parked again.
    for (const [i, payload] of ['null', '42', '"text"', '[1]'].entries()) {
      await parked(`order:created#10${i + 1}`, 'order:created', payload, new Date());
      const answer = await replay(`order:created#10${i + 1}`);
      expect({ payload, status: answer.status, code: answer.body.errors?.[0]?.code }).toEqual({
        payload,
        status: 400,
        code: 'not_replayable',
      });
    }
    const unknown = await replay('order:created#404');
    expect(unknown.status).toBe(404);
    expectDocumented(unknown, path, 'post');
  });
});

describe('the admin console at /api/payments/admin/', () => {
  test('serves its page and files to an admin, with a policy that allows no inline script', async () => {
    const page = await app().get('/api/payments/admin/').set('Cookie', admin);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(page.text).not.toMatch(/<script>|<script [^>]*>[^<]/);
    const script = await app().get('/api/payments/admin/console.js').set('Cookie', admin);
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    const style = await app().get('/api/payments/admin/console.css').set('Cookie', admin);
    expect(style.headers['content-type']).toMatch(/^text\/css/);
    const bare = await app().get('/api/payments/admin').set('Cookie', admin);
    expect(bare.status).toBe(301);
    expect(bare.headers.location).toBe('/api/payments/admin/');
  });

  test('answers a user who is not an admin, or no one, with the API 401', async () => {
    for (const res of [
      await app().get('/api/payments/admin/').set('Cookie', sessionCookie(newUser())),
      await app().get('/api/payments/admin/console.js'),
      await app().get('/api/payments/admin'),
    ]) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ errors: [{ message: 'Not authorized', code: 'not_authorized' }] });
    }
  });
});
