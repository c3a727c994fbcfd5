import request from 'supertest';
import { createLogger } from '../../src/log';
import { createOrder, JWT_KEY, newUser, sessionCookie, signToken, useStack } from '../support/harness';

const STRIPE_KEY = 'sk_test_observabilitysecret';
const lines: string[] = [];

const stack = useStack({
  name: 'ops',
  subjects: ['payment:created'],
  // One write at a time, as on FerretDB with SQLite: the lane's metrics count something.
  env: { STRIPE_KEY, MONGO_WRITES_IN_FLIGHT: '1' },
  log: createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } }),
});

describe('health', () => {
  test('liveness answers while the process runs; readiness names each dependency', async () => {
    expect((await request(stack.service.app).get('/api/payments/health/live')).body).toEqual({ status: 'ok' });
    const ready = await request(stack.service.app).get('/api/payments/health');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ok', dependencies: { mongo: 'up', nats: 'up' } });
  });
});

describe('a full payment, as seen by an operator', () => {
  let cookie: string;
  let bearer: string;
  let requestId: string;
  // What the service logged while the request was in flight: the test's only request.
  let during: Record<string, unknown>[];

  beforeAll(async () => {
    const user = newUser();
    cookie = sessionCookie(user);
    bearer = signToken(user);
    const order = await createOrder(stack.peer, stack.service, { userId: user.id, price: 7.5 });
    const before = lines.length;
    const res = await request(stack.service.app)
      .post('/api/payments')
      .set('Cookie', cookie)
      .set('Authorization', `Bearer ${bearer}`)
      .set('X-Request-Id', 'req-observability-1')
      .send({ token: 'tok_visa', orderId: order.id });
    expect(res.status).toBe(201);
    requestId = res.headers['x-request-id'] as string;
    during = lines.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
    await stack.peer.waitFor((e) => e.data.orderId === order.id);
  });

  test('metrics expose payments by outcome, provider latency, events and the outbox', async () => {
    await stack.service.outbox.flush();
    const res = await request(stack.service.app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    const text = res.text;
    expect(text).toMatch(/^payments_total\{outcome="succeeded"\} 1$/m);
    expect(text).toMatch(/^payment_provider_call_seconds_count\{operation="charge",outcome="ok"\} 1$/m);
    expect(text).toMatch(/^events_consumed_total\{subject="order:created",outcome="inserted"\} 1$/m);
    expect(text).toMatch(/^events_published_total\{subject="payment:created"\} 1$/m);
    expect(text).toMatch(/^outbox_backlog_events 0$/m);
    expect(text).toMatch(/^oldest_pending_payment_age_seconds 0$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    // The payment's writes went through the lane: its start, its change, its settled copy and more.
    const lane = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(lane('db_write_lane_writes_total')).toBeGreaterThanOrEqual(4);
    expect(lane('db_write_lane_busy_seconds_total')).toBeGreaterThan(0);
    expect(lane('db_write_lane_wait_seconds_total')).toBeGreaterThanOrEqual(0);
    expect(text).toMatch(
      /^http_request_duration_seconds_count\{method="POST",route="\/api\/payments",status="201"\} 1$/m,
    );
  });

  test('every log line of the request carries its request id', () => {
    expect(requestId).toBe('req-observability-1');
    expect(during.map((l) => l.msg)).toEqual(expect.arrayContaining(['payment succeeded', 'request done']));
    expect(during.filter((l) => l.reqId !== requestId)).toEqual([]);
  });

  test('no token, cookie, card token or key reaches the log', () => {
    const log = lines.join('');
    expect(log).toContain('payment succeeded');
    for (const secret of [bearer, cookie.slice('session='.length), 'tok_visa', STRIPE_KEY, JWT_KEY]) {
      expect(log).not.toContain(secret);
    }
  });
});

describe('internal errors', () => {
  test('answer 500 with a generic message in the error shape; the details go to the log', async () => {
    const user = newUser();
    const order = await createOrder(stack.peer, stack.service, { userId: user.id });
    // The database going away mid-flight is the kind of failure no rule of the domain expects.
    await stack.service.db.connection.close();
    const res = await request(stack.service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .set('X-Request-Id', 'req-internal-1')
      .send({ token: 'tok_visa', orderId: order.id });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ errors: [{ message: 'Something went wrong', code: 'internal' }] });
    const logged = lines
      .map((l) => JSON.parse(l) as { reqId?: string; msg?: string; err?: { stack?: string } })
      .find((l) => l.reqId === 'req-internal-1' && l.msg === 'unhandled error');
    expect(logged?.err?.stack).toEqual(expect.any(String));
  });
});
