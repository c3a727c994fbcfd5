import { createHmac } from 'node:crypto';
import request from 'supertest';
import { destinationOf } from '../../src/callbacks/callbacks';
import type { Service } from '../../src/service';
import {
  busClient,
  createOrder,
  eventually,
  movableClock,
  newUser,
  sessionCookie,
  startTestService,
  uniqueName,
  type BusClient,
} from '../support/harness';
import { expectDocumented, loadDocument } from '../support/openapi';
import { startReceiver, type Callback, type Receiver } from '../support/receiver';
import { startBusServer, type BusServer } from '../support/servers';

// A test value in the Standard Webhooks form: whsec_ and base64 of the key's bytes.
const SECRET = `whsec_${Buffer.from('callbacks-test-key-of-32-bytes!!').toString('base64')}`;
const TIMEOUT_MS = 1500;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

// Stopped: the schedule is checked a second before and at each attempt, and seen in a fresh clone, 7 s
// of real time between two steps on a busy machine sent an attempt the test was not yet due to see.
const clock = movableClock({ stopped: true });
let nats: BusServer;
let service: Service;
let peer: BusClient;
let a: Receiver;
let b: Receiver;

beforeAll(async () => {
  await loadDocument();
  nats = await startBusServer();
  [a, b] = await Promise.all([startReceiver(), startReceiver()]);
  ({ service } = await startTestService({
    nats,
    db: uniqueName('callbacks'),
    clock,
    env: {
      ORDER_CALLBACK_URL: `${a.url}, ${b.url}`,
      CALLBACK_SECRET: SECRET,
      CALLBACK_TIMEOUT_MS: String(TIMEOUT_MS),
      STRIPE_API_BASE: process.env.LOCALSTRIPE_URL as string,
    },
  }));
  peer = await busClient(nats, ['payment:created', 'payment:refunded']);
});

afterAll(async () => {
  await peer?.close();
  await service?.stop();
  await Promise.all([a?.close(), b?.close()]);
  await nats?.stop();
});

beforeEach(() => {
  a.answerWith(200);
  b.answerWith(200);
});

const admin = sessionCookie(newUser('admin'));

async function pay() {
  const user = newUser();
  const order = await createOrder(peer, service, { userId: user.id, price: 12.5 });
  const res = await request(service.app)
    .post('/api/payments')
    .set('Cookie', sessionCookie(user))
    .send({ token: 'pm_card_visa', orderId: order.id });
  expect(res.status).toBe(201);
  const [event] = await peer.waitFor((e) => e.subject === 'payment:created' && e.data.orderId === order.id);
  return { paymentId: res.body.id as string, event: event!.data, eventId: event!.data.eventId as string };
}

/** What the outbox holds for one receiver and event, null once it is delivered or dead. */
const pending = (r: Receiver, eventId: string) =>
  service.db.native.collection('outbox').findOne({ _id: `${destinationOf(r.url)}:${eventId}` as never });
const dead = (r: Receiver, eventId: string) =>
  service.db.native.collection('dead_deliveries').findOne({ _id: `${destinationOf(r.url)}:${eventId}` as never });

/** Lets the attempts in hand finish, moves the service's clock on, and lets the outbox send what became due. */
async function later(ms: number) {
  await service.outbox.flush();
  clock.advance(ms);
  await service.outbox.flush();
}

async function counted(name: string, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await service.metrics.registry.getSingleMetric(name)!.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Recomputes the Standard Webhooks signature over `id.timestamp.body` with the key the secret carries. */
function expectSigned(c: Callback) {
  const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
  const signed = `${String(c.headers['webhook-id'])}.${String(c.headers['webhook-timestamp'])}.${c.raw}`;
  expect(c.headers['webhook-signature']).toBe(`v1,${createHmac('sha256', key).update(signed).digest('base64')}`);
}

describe('callbacks to order services', () => {
  test('each payment event reaches every receiver, signed as Standard Webhooks, with the bus payload as data', async () => {
    const delivered = await counted('callback_attempts_total', { outcome: 'delivered' });
    const { paymentId, event, eventId } = await pay();

    for (const r of [a, b]) {
      const [c] = await r.waitFor((x) => x.headers['webhook-id'] === eventId);
      expect(c!.headers['content-type']).toBe('application/json');
      expect(c!.headers['webhook-timestamp']).toMatch(/^\d{10}$/);
      expect(Math.abs(Number(c!.headers['webhook-timestamp']) - clock.now().getTime() / 1000)).toBeLessThan(30);
      expectSigned(c!);
      expect(c!.body).toEqual({ type: 'payment:created', timestamp: expect.any(String), data: event });
    }
    // The event's time: when the payment succeeded, the same for every attempt.
    const read = await request(service.app).get(`/api/payments/${paymentId}`).set('Cookie', admin);
    const succeeded = (read.body.history as { status: string; at: string }[]).find((h) => h.status === 'succeeded');
    expect(a.of(eventId)[0]?.body.timestamp).toBe(succeeded?.at);

    const refund = await request(service.app)
      .post(`/api/payments/${paymentId}/refunds`)
      .set('Cookie', admin)
      .send({ amount: 250 });
    expect(refund.status).toBe(201);
    const [refunded] = await peer.waitFor((e) => e.subject === 'payment:refunded' && e.data.paymentId === paymentId);
    for (const r of [a, b]) {
      const [c] = await r.waitFor((x) => x.headers['webhook-id'] === refunded!.data.eventId);
      expectSigned(c!);
      expect(c!.body).toMatchObject({ type: 'payment:refunded', data: refunded!.data });
    }

    await service.outbox.flush();
    expect([...a.of(eventId), ...b.of(eventId)]).toHaveLength(2);
    // Payment events only: the bus's other subjects (notification:requested) are not the order service's.
    expect(new Set([...a.received, ...b.received].map((c) => c.body.type))).toEqual(
      new Set(['payment:created', 'payment:refunded']),
    );
    await eventually(async () => (await pending(a, eventId)) === null); // leaves the outbox just after it is sent or kept
    await eventually(async () => (await pending(b, eventId)) === null); // leaves the outbox just after it is sent or kept
    expect(await counted('callback_attempts_total', { outcome: 'delivered' })).toBe(delivered + 4);
  });

  test('a receiver answering 500 gets the event 10 s later; the other receiver and the bus had it at once', async () => {
    const failed = await counted('callback_attempts_total', { outcome: 'failed' });
    b.answerWith(500);
    const { eventId } = await pay();
    await a.waitFor((c) => c.headers['webhook-id'] === eventId);
    const first = await eventually(async () => {
      const entry = await pending(b, eventId);
      return entry?.attempts === 1 && entry;
    });
    expect(first).toMatchObject({ lastError: 'receiver answered 500', lastStatus: 500 });
    expect(await counted('callback_attempts_total', { outcome: 'failed' })).toBe(failed + 1);

    b.answerWith(200);
    await later(9 * SECOND);
    expect(b.of(eventId)).toHaveLength(1);
    await later(1 * SECOND);
    expect(b.of(eventId).map((c) => c.answer)).toEqual([500, 200]);
    expectSigned(b.of(eventId)[1]!);
    expect(b.of(eventId)[1]!.raw).toBe(b.of(eventId)[0]!.raw);
    await eventually(async () => !(await pending(b, eventId)));
    expect(a.of(eventId)).toHaveLength(1);
  });

  test('a hanging receiver is cut off at CALLBACK_TIMEOUT_MS and tried again, holding back neither the bus nor the other receiver', async () => {
    const timeouts = await counted('callback_attempts_total', { outcome: 'timeout' });
    b.answerWith('hang');
    const { eventId } = await pay();
    await b.waitFor((c) => c.headers['webhook-id'] === eventId);
    // The bus (pay() awaited it) and the other receiver have it while this request still hangs.
    await a.waitFor((c) => c.headers['webhook-id'] === eventId);
    expect(b.hangingCount()).toBe(1);

    const entry = await eventually(async () => {
      const e = await pending(b, eventId);
      return e?.attempts === 1 && e;
    });
    expect(entry.lastError).toBe(`no answer within ${TIMEOUT_MS} ms`);
    expect(entry.lastStatus).toBeUndefined();
    // The receiver sees the connection close a moment after the sender gave up on it.
    await eventually(async () => b.hangingCount() === 0);
    expect(await counted('callback_attempts_total', { outcome: 'timeout' })).toBe(timeouts + 1);

    b.answerWith(200);
    await later(10 * SECOND);
    expect(b.of(eventId).map((c) => c.answer)).toEqual(['hang', 200]);
    await eventually(async () => !(await pending(b, eventId)));
  });

  test('410 Gone ends the delivery at once: it is dead, kept with its last answer, and never tried again', async () => {
    const [gone, deaths] = [
      await counted('callback_attempts_total', { outcome: 'gone' }),
      await counted('callback_dead_total'),
    ];
    b.answerWith(410);
    const { eventId, event } = await pay();
    const kept = await eventually(() => dead(b, eventId));
    expect(kept).toMatchObject({
      messageId: eventId,
      destination: destinationOf(b.url),
      url: b.url,
      subject: 'payment:created',
      payload: { type: 'payment:created', data: event },
      attempts: 1,
      lastError: 'receiver answered 410',
      lastStatus: 410,
    });
    expect(kept.diedAt).toBeInstanceOf(Date);
    await eventually(async () => (await pending(b, eventId)) === null); // leaves the outbox just after it is sent or kept
    expect(await counted('callback_attempts_total', { outcome: 'gone' })).toBe(gone + 1);
    // Counted once the delivery has left the outbox, a moment after the test can see it gone.
    await eventually(async () => (await counted('callback_dead_total')) >= deaths + 1);
    expect(await counted('callback_dead_total')).toBe(deaths + 1);

    b.answerWith(200);
    await later(25 * HOUR);
    expect(b.of(eventId)).toHaveLength(1);
    expect(a.of(eventId)).toHaveLength(1);
  });

  test('a receiver failing every attempt of the schedule 0, 10 s, 1 min, 5 min, 30 min, 2 h, 6 h, 12 h, 24 h is dead after the ninth', async () => {
    const deaths = await counted('callback_dead_total');
    b.answerWith(500);
    const { eventId } = await pay();
    await eventually(async () => (await pending(b, eventId))?.attempts === 1);

    const retries = [10 * SECOND, MINUTE, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR];
    for (const [i, delay] of retries.entries()) {
      await later(delay - SECOND);
      expect(b.of(eventId)).toHaveLength(i + 1);
      await later(SECOND);
      expect(b.of(eventId)).toHaveLength(i + 2);
    }
    expect(await dead(b, eventId)).toMatchObject({ attempts: 9, lastStatus: 500, lastError: 'receiver answered 500' });
    await eventually(async () => (await pending(b, eventId)) === null); // leaves the outbox just after it is sent or kept
    // Counted once the delivery has left the outbox, a moment after the test can see it gone.
    await eventually(async () => (await counted('callback_dead_total')) >= deaths + 1);
    expect(await counted('callback_dead_total')).toBe(deaths + 1);

    await later(48 * HOUR);
    expect(b.of(eventId)).toHaveLength(9);
  });

  test('admins list dead deliveries newest first and redeliver one: it is sent again and leaves the list', async () => {
    b.answerWith(410);
    const older = await pay();
    await eventually(() => dead(b, older.eventId));
    clock.advance(SECOND);
    const newer = await pay();
    await eventually(() => dead(b, newer.eventId));
    const list = (query: string, cookie = admin) =>
      request(service.app).get(`/api/payments/admin/deliveries${query}`).set('Cookie', cookie);

    const path = '/api/payments/admin/deliveries';
    for (const res of [
      await list('?status=dead', sessionCookie(newUser())),
      await request(service.app).get(`${path}?status=dead`),
    ]) {
      expect(res.status).toBe(401);
      expectDocumented(res, path, 'get');
    }
    for (const query of ['', '?status=pending', '?status=dead&limit=0', '?status=dead&limit=101']) {
      const res = await list(query);
      expect({ query, status: res.status, code: res.body.errors?.[0]?.code }).toEqual({
        query,
        status: 400,
        code: 'invalid_field',
      });
      expectDocumented(res, path, 'get');
    }

    const first = await list('?status=dead&limit=1');
    expect(first.status).toBe(200);
    expectDocumented(first, path, 'get');
    expect(first.body).toMatchObject({ object: 'list', url: path, has_more: true });
    expect(first.body.data).toEqual([
      {
        id: `${destinationOf(b.url)}:${newer.eventId}`,
        status: 'dead',
        url: b.url,
        eventId: newer.eventId,
        subject: 'payment:created',
        body: { type: 'payment:created', timestamp: expect.any(String), data: newer.event },
        attempts: 1,
        lastError: 'receiver answered 410',
        lastStatus: 410,
        createdAt: expect.any(String),
        diedAt: expect.any(String),
      },
    ]);
    const next = await list(`?status=dead&limit=1&starting_after=${encodeURIComponent(first.body.data[0].id)}`);
    expect(next.body.data.map((d: { eventId: string }) => d.eventId)).toEqual([older.eventId]);

    const id = `${destinationOf(b.url)}:${older.eventId}`;
    const redeliver = (cookie = admin, which = id) =>
      request(service.app)
        .post(`${path}/${encodeURIComponent(which)}/redeliver`)
        .set('Cookie', cookie);
    const redeliverPath = `${path}/{id}/redeliver`;
    const refused = await redeliver(sessionCookie(newUser()));
    expect(refused.status).toBe(401);
    expectDocumented(refused, redeliverPath, 'post');

    const delivered = await counted('callback_attempts_total', { outcome: 'delivered' });
    b.answerWith(200);
    const res = await redeliver();
    expect(res.status).toBe(200);
    expectDocumented(res, redeliverPath, 'post');
    expect(res.body).toMatchObject({ id, status: 'pending', url: b.url, eventId: older.eventId, attempts: 0 });
    const [, again] = await b.waitFor((c) => c.headers['webhook-id'] === older.eventId, 2);
    expect(again!.answer).toBe(200);
    expectSigned(again!);
    expect(again!.body).toEqual(b.of(older.eventId)[0]!.body);

    const all = await list('?status=dead&limit=100');
    expect(all.body.data.map((d: { id: string }) => d.id)).not.toContain(id);
    expect(all.body.data.map((d: { id: string }) => d.id)).toContain(`${destinationOf(b.url)}:${newer.eventId}`);
    expect(await dead(b, older.eventId)).toBeNull();
    await service.outbox.flush();
    await eventually(async () => (await pending(b, older.eventId)) === null); // leaves the outbox just after it is sent or kept
    expect(await counted('callback_attempts_total', { outcome: 'delivered' })).toBe(delivered + 1);

    for (const which of [id, 'nothing-like-this']) {
      const gone = await redeliver(admin, which);
      expect(gone.status).toBe(404);
      expect(gone.body.errors[0].code).toBe('not_found');
      expectDocumented(gone, redeliverPath, 'post');
    }
  });

  test('a dead delivery whose receiver left ORDER_CALLBACK_URL is not sent again: 409 receiver_not_configured', async () => {
    const { eventId, event } = await pay();
    const id = `callback:000000000000:${eventId}`;
    await service.stores.deadDeliveries.add({
      id,
      messageId: eventId,
      destination: 'callback:000000000000',
      url: 'https://orders.example/removed',
      subject: 'payment:created',
      key: String(event.orderId),
      payload: { type: 'payment:created', timestamp: new Date().toISOString(), data: event },
      attempts: 9,
      lastError: 'receiver answered 500',
      lastStatus: 500,
      createdAt: new Date(),
      diedAt: new Date(),
    });
    const res = await request(service.app)
      .post(`/api/payments/admin/deliveries/${encodeURIComponent(id)}/redeliver`)
      .set('Cookie', admin);
    expect(res.status).toBe(409);
    expect(res.body.errors[0].code).toBe('receiver_not_configured');
    expectDocumented(res, '/api/payments/admin/deliveries/{id}/redeliver', 'post');
    expect(await service.stores.deadDeliveries.get(id)).toMatchObject({ attempts: 9 });
    expect(await service.db.native.collection('outbox').findOne({ _id: id as never })).toBeNull();
  });

  test('a receiver down for an hour loses nothing: what it missed arrives once it is back', async () => {
    const unreachable = await counted('callback_attempts_total', { outcome: 'unreachable' });
    await b.stop();
    const paid = [await pay(), await pay(), await pay()];
    for (const { eventId } of paid) {
      await a.waitFor((c) => c.headers['webhook-id'] === eventId);
      await eventually(async () => (await pending(b, eventId))?.attempts === 1);
    }
    // Refused at 0, 10 s, 1 min 10 s, 6 min 10 s and 36 min 10 s.
    for (const delay of [10 * SECOND, MINUTE, 5 * MINUTE, 30 * MINUTE]) await later(delay);
    for (const { eventId } of paid) {
      expect(await pending(b, eventId)).toMatchObject({
        attempts: 5,
        lastError: expect.stringMatching(/^unreachable/),
      });
    }
    expect(await counted('callback_attempts_total', { outcome: 'unreachable' })).toBe(unreachable + 15);

    await later(24 * MINUTE);
    await b.start();
    await later(2 * HOUR);
    for (const { eventId, event } of paid) {
      expect(b.of(eventId)).toEqual([
        expect.objectContaining({ answer: 200, body: expect.objectContaining({ data: event }) }),
      ]);
      expect(await dead(b, eventId)).toBeNull();
      await eventually(async () => !(await pending(b, eventId)));
    }
  });
});
