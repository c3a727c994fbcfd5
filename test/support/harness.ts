import { randomBytes } from 'node:crypto';
import { Types } from 'mongoose';
import nats, { type Stan } from 'node-nats-streaming';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { loadConfig, type Config } from '../../src/config';
import { paymentIdFor, start, type Payment } from '../../src/domain/payment';
import type { Clock, PaymentProvider } from '../../src/domain/ports';
import type { Subject } from '../../src/events/subjects';
import type { Logger } from '../../src/log';
import { startService, type Service } from '../../src/service';
import { jetStreamPeer } from './jetstream-peer';
import { kafkaPeer } from './kafka-peer';
import { startBusServer, type BusServer, type NatsServer } from './servers';
import { startStripeProxy, type StripeProxy } from './stripe-proxy';

export const JWT_KEY = 'test-jwt-key';

export const newId = () => new Types.ObjectId().toHexString();
export const uniqueName = (prefix: string) => `${prefix}_${randomBytes(6).toString('hex')}`;

export interface TestUser {
  id: string;
  email: string;
  role?: string;
}
export const newUser = (role?: string): TestUser => ({
  id: newId(),
  email: `${uniqueName('user')}@test.io`,
  ...(role ? { role } : {}),
});

export const signToken = (user: TestUser, key = JWT_KEY, options: jwt.SignOptions = {}) =>
  jwt.sign(user, key, { algorithm: 'HS256', ...options });

/** The ticketing session cookie: base64 of {"jwt": token}. */
export const sessionCookie = (user: TestUser, key = JWT_KEY) =>
  `session=${Buffer.from(JSON.stringify({ jwt: signToken(user, key) })).toString('base64')}`;

/** Environment of a service under test; every file gets its own database and client id. */
export function testEnv(bus: BusServer, db: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    PORT: '0',
    JWT_KEY,
    MONGO_URI: `${process.env.TEST_MONGO_URI}/${db}`,
    // As on FerretDB's SQLite handler, the tests' default store: every write goes through the lane.
    MONGO_WRITES_IN_FLIGHT: '1',
    ...bus.env,
    NATS_CLIENT_ID: uniqueName('payments'),
    PAYMENT_PROVIDER: 'stripe',
    STRIPE_KEY: 'sk_test_payments',
    STRIPE_API_BASE: process.env.STRIPE_MOCK_URL as string,
    PROVIDER_TIMEOUT_MS: '5000',
    PAYMENTS_RECONCILE_AFTER_MS: '30000',
    PAYMENTS_RECONCILE_INTERVAL_MS: '600000',
    OUTBOX_INTERVAL_MS: '200',
    NATS_ACK_WAIT_MS: '1000',
    BOOT_TIMEOUT_MS: '10000',
    ...env,
  };
}

export async function startTestService(opts: {
  nats: BusServer;
  db: string;
  env?: Record<string, string>;
  provider?: PaymentProvider;
  clock?: Clock;
  log?: Logger;
}): Promise<{ service: Service; config: Config }> {
  const config = loadConfig(testEnv(opts.nats, opts.db, opts.env));
  const service = await startService(config, {
    host: '127.0.0.1',
    ...(opts.provider && { provider: opts.provider }),
    ...(opts.clock && { clock: opts.clock }),
    ...(opts.log && { log: opts.log }),
  });
  return { service, config };
}

export interface Received {
  subject: string;
  data: Record<string, unknown>;
}

/** What another ticketing service does on the bus: publish, and read the subjects it follows. */
interface Peer {
  publish(subject: Subject, payload: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A plain client of the test's bus, as another ticketing service would be: it
 * publishes order events and records every payment event it sees.
 */
export async function busClient(server: BusServer, subjects: Subject[] = []) {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const onMessage = (subject: string, data: string) => {
    received.push({ subject, data: JSON.parse(data) as Record<string, unknown> });
    waiters.splice(0).forEach((w) => w());
  };
  const peers = { jetstream: jetStreamPeer, kafka: kafkaPeer };
  const peer: Peer =
    server.kind === 'stan'
      ? await stanPeer(server as NatsServer, subjects, onMessage)
      : await peers[server.kind](server, uniqueName('peer'), subjects, onMessage);
  return {
    received,
    publish(subject: Subject, data: unknown): Promise<void> {
      return peer.publish(subject, typeof data === 'string' ? data : JSON.stringify(data));
    },
    /** Resolves with the matching events once `count` of them have arrived. */
    async waitFor(match: (r: Received) => boolean, count = 1, timeoutMs = 10000): Promise<Received[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hits = received.filter(match);
        if (hits.length >= count) return hits;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} matching events, saw ${hits.length}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
    close: () => peer.close(),
  };
}
export type BusClient = Awaited<ReturnType<typeof busClient>>;

async function stanPeer(
  server: NatsServer,
  subjects: Subject[],
  onMessage: (subject: string, data: string) => void,
): Promise<Peer> {
  const stan: Stan = await new Promise((resolve, reject) => {
    const c = nats.connect(server.clusterId, uniqueName('peer'), {
      url: server.url,
      reconnect: false,
      connectTimeout: 10000,
    });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
  for (const subject of subjects) {
    const sub = stan.subscribe(subject, stan.subscriptionOptions().setDeliverAllAvailable());
    sub.on('message', (m: nats.Message) => onMessage(subject, m.getData() as string));
  }
  return {
    publish(subject, payload) {
      return new Promise((resolve, reject) => stan.publish(subject, payload, (err) => (err ? reject(err) : resolve())));
    },
    close() {
      return new Promise((resolve) => {
        stan.once('close', () => resolve());
        stan.close();
      });
    },
  };
}

/** The payments made for an order, as they stand (a test's question: the service never asks it). */
export async function paymentsOf(service: Service, orderId: string): Promise<Payment[]> {
  const query = { orderId: new Types.ObjectId(orderId) };
  const docs = await Promise.all(
    ['payments_pending', 'payments'].map((c) => service.db.native.collection(c).find(query).toArray()),
  );
  const ids = new Set(docs.flat().map((d) => String(d._id)));
  const found = await Promise.all([...ids].map((id) => service.stores.payments.load(id)));
  return found.filter((p): p is Payment => p !== null);
}

/** A new payment of an order's first attempt, in USD, started at `at` and due for the reconciler at `dueAt`. */
export function firstPayment(fields: {
  orderId: string;
  userId: string;
  amount: number;
  source?: string;
  at: Date;
  dueAt: Date;
}): Payment {
  return start({
    id: paymentIdFor(fields.orderId, 0),
    orderId: fields.orderId,
    userId: fields.userId,
    amount: fields.amount,
    currency: 'usd',
    source: fields.source ?? 'tok_visa',
    requestKey: null,
    at: fields.at,
    dueAt: fields.dueAt,
  });
}

/**
 * A payment as a process that died before charging leaves it: started (pending,
 * holding the order's first attempt) at `at`, due for the reconciler since then.
 */
export async function leftPending(
  service: Service,
  fields: { orderId: string; userId: string; amount: number; source?: string; at?: Date },
): Promise<Payment> {
  const at = fields.at ?? new Date(Date.now() - 60_000);
  const payment = firstPayment({ ...fields, at, dueAt: at });
  if (!(await service.stores.payments.start(payment))) throw new Error('the order was already held');
  return payment;
}

/**
 * A clock that runs with real time and that a test moves forward, past a scheduled time. `stopped`:
 * it moves only when the test moves it, for a test that checks a schedule to the second while real
 * time passes unevenly on a busy machine.
 */
export function movableClock(opts: { stopped?: boolean } = {}): Clock & { advance(ms: number): void } {
  let offset = 0;
  const startedAt = Date.now();
  return {
    now: () => new Date((opts.stopped ? startedAt : Date.now()) + offset),
    advance(ms) {
      offset += ms;
    },
  };
}

/** Polls until `probe` returns a value: for effects of an event, which has no reply to await. */
export async function eventually<T>(probe: () => Promise<T | null | undefined | false>, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Publishes order:created as the orders service would and waits until the service has it. */
export async function createOrder(
  client: BusClient,
  service: Service,
  fields: { userId: string; price?: number; currency?: string; id?: string },
) {
  const order = {
    id: fields.id ?? newId(),
    version: 0,
    status: 'created',
    userId: fields.userId,
    expiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
    ticket: { id: newId(), price: fields.price ?? 20 },
    ...(fields.currency ? { currency: fields.currency } : {}),
  };
  await client.publish('order:created', order);
  await eventually(() => service.stores.orders.get(order.id));
  return order;
}

/**
 * A user's order, known to the service, then paid while the bus is stopped: the payment is made and its
 * event waits in the outbox. The bus is left stopped.
 */
export async function payWithBusStopped(server: BusServer, service: Service) {
  const peer = await busClient(server);
  const user = newUser();
  const order = await createOrder(peer, service, { userId: user.id });
  await peer.close();
  await server.stop();
  await eventually(async () => !service.bus.isConnected());
  const res = await request(service.app)
    .post('/api/payments')
    .set('Cookie', sessionCookie(user))
    .send({ token: 'tok_visa', orderId: order.id });
  return { user, order, res };
}

export interface Stack {
  /** The TEST_BUS server (NATS Streaming by default). */
  nats: BusServer;
  service: Service;
  /** A peer service on the bus, subscribed to the subjects asked for. */
  peer: BusClient;
  /** The Stripe-compatible proxy the service talks to, when one was asked for. */
  stripe: StripeProxy;
}

/**
 * Starts, for one test file, its own bus server (TEST_BUS), the service in-process on
 * its own database, and a peer on the bus; stops them all after the file.
 */
export function useStack(opts: {
  name: string;
  subjects?: Subject[];
  env?: Record<string, string>;
  /** Put the proxy in front of this Stripe-compatible server and point the service at it. */
  proxyTo?: 'stripe-mock' | 'localstripe';
  fileStore?: boolean;
  clock?: Clock;
  log?: Logger;
}): Stack {
  const stack = {} as Stack;
  beforeAll(async () => {
    stack.nats = await startBusServer({ fileStore: opts.fileStore ?? false });
    const env = { ...opts.env };
    if (opts.proxyTo) {
      const target = opts.proxyTo === 'localstripe' ? process.env.LOCALSTRIPE_URL : process.env.STRIPE_MOCK_URL;
      stack.stripe = await startStripeProxy(target as string);
      env.STRIPE_API_BASE = stack.stripe.url;
    }
    ({ service: stack.service } = await startTestService({
      nats: stack.nats,
      db: uniqueName(opts.name),
      env,
      ...(opts.clock && { clock: opts.clock }),
      ...(opts.log && { log: opts.log }),
    }));
    stack.peer = await busClient(stack.nats, opts.subjects ?? []);
  });
  afterAll(async () => {
    await stack.peer?.close();
    await stack.service?.stop();
    await stack.stripe?.close();
    await stack.nats?.stop();
  });
  return stack;
}
