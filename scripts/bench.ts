import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import jwt from 'jsonwebtoken';
import mongoose from 'mongoose';
import { busClient, newId, type BusClient } from '../test/support/harness';
import { spawnService } from '../test/support/process';
import { freePort, startFerretDb, startNatsStreaming, startStripeMock } from '../test/support/servers';
import { formatReport, type LevelResult, type Report } from './bench/report';

const USAGE = `Usage: npm run bench -- [options]
  --orders K          order:created events to replicate, timed (default 2000)
  --requests N        POST /api/payments requests per concurrency level (default 150)
  --concurrency LIST  comma-separated concurrency levels (default 1,8,32)
  --warmup N          untimed requests before the first level (default 30)
  --log-level LEVEL   the service's LOG_LEVEL (default warn)
  --json FILE         also write the raw numbers to FILE`;

function readFlags() {
  const { values } = parseArgs({
    options: {
      orders: { type: 'string', default: '2000' },
      requests: { type: 'string', default: '150' },
      concurrency: { type: 'string', default: '1,8,32' },
      warmup: { type: 'string', default: '30' },
      'log-level': { type: 'string', default: 'warn' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const count = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}\n${USAGE}`);
    return n;
  };
  return {
    orders: count('orders', values.orders, 1),
    requests: count('requests', values.requests, 1),
    levels: values.concurrency.split(',').map((c) => count('concurrency', c.trim(), 1)),
    warmup: count('warmup', values.warmup, 0),
    logLevel: values['log-level'],
    json: values.json,
  };
}
type Flags = ReturnType<typeof readFlags>;

/** Cleanups run once, last registered first, whether the run ends, fails or is interrupted. */
const cleanups: (() => Promise<unknown>)[] = [];
let cleaning: Promise<void> | undefined;
const cleanup = () =>
  (cleaning ??= (async () => {
    for (let c = cleanups.pop(); c; c = cleanups.pop()) {
      await c().catch((err: unknown) => console.error('bench: cleanup failed:', err));
    }
  })());

async function until(probe: () => Promise<boolean>, what: string, everyMs: number): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (!(await probe())) {
    if (cleaning) throw new Error('bench: stopped');
    if (Date.now() > deadline) throw new Error(`bench: ${what} not reached in 10 minutes`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The payload of order:created as the orders service publishes it (see test/support/harness.ts). */
const orderCreated = (userId: string) => ({
  id: newId(),
  version: 0,
  status: 'created',
  userId,
  expiresAt: new Date(Date.now() + 60 * 60_000).toISOString(),
  ticket: { id: newId(), price: 20 },
});

async function publishOrders(bus: BusClient, userId: string, count: number): Promise<string[]> {
  const orders = Array.from({ length: count }, () => orderCreated(userId));
  await Promise.all(orders.map((o) => bus.publish('order:created', o)));
  return orders.map((o) => o.id);
}

/** Samples of one metric from the service's /metrics, with their label text. */
async function scrape(url: string, name: string): Promise<{ labels: string; value: number }[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))].map((m) => ({
    labels: m[1] ?? '',
    value: Number(m[2]),
  }));
}

async function consumedOutcomes(url: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const { labels, value } of await scrape(url, 'events_consumed_total')) {
    const outcome = /outcome="([^"]*)"/.exec(labels)?.[1];
    if (outcome && labels.includes('subject="order:created"')) out[outcome] = value;
  }
  return out;
}

async function payAll(
  url: string,
  token: string,
  orderIds: string[],
  connections: number,
  amount: number,
): Promise<autocannon.Result> {
  return autocannon({
    url,
    connections,
    amount,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: '/api/payments',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        // An order is charged once; every request must carry an order of its own.
        setupRequest: (req) => {
          const orderId = orderIds.pop();
          if (!orderId) throw new Error('bench: ran out of pre-created orders');
          return { ...req, body: JSON.stringify({ token: 'tok_visa', orderId }) };
        },
      },
    ],
  });
}

async function run(flags: Flags): Promise<Report> {
  const stopLater = <T extends { stop(): Promise<void> }>(server: T) => {
    cleanups.push(() => server.stop());
    return server;
  };
  const [ferret, nats, stripe] = await Promise.all([
    startFerretDb().then(stopLater),
    startNatsStreaming().then(stopLater),
    startStripeMock().then(stopLater),
  ]);

  const jwtKey = randomBytes(32).toString('hex');
  const mongoUri = `${ferret.url}/payments`;
  const service = await spawnService({
    NODE_ENV: 'production',
    LOG_LEVEL: flags.logLevel,
    PORT: String(await freePort()),
    JWT_KEY: jwtKey,
    MONGO_URI: mongoUri,
    NATS_URL: nats.url,
    NATS_CLUSTER_ID: nats.clusterId,
    NATS_CLIENT_ID: 'payments-bench',
    PAYMENT_PROVIDER: 'stripe',
    STRIPE_KEY: 'sk_test_bench',
    STRIPE_API_BASE: stripe.url,
  });
  cleanups.push(async () => {
    const killer = setTimeout(() => void service.kill('SIGKILL'), 15_000);
    const { code, signal } = await service.kill('SIGTERM');
    clearTimeout(killer);
    if (code !== 0) {
      console.error(`bench: FAILED, the service ended with ${code ?? signal}:\n${service.output().slice(-4000)}`);
      process.exitCode = 1;
    }
  });
  await service.ready();

  const conn = await mongoose.createConnection(mongoUri).asPromise();
  cleanups.push(() => conn.close());
  const bus = await busClient(nats);
  cleanups.push(() => bus.close());
  const storedOrders = () => conn.collection('orders').estimatedDocumentCount();

  const user = { id: newId(), email: 'bench@example.test' };
  const token = jwt.sign(user, jwtKey, { algorithm: 'HS256', expiresIn: '1h' });

  console.error(`bench: replicating ${flags.orders} order:created events`);
  const t0 = performance.now();
  const orderIds = await publishOrders(bus, user.id, flags.orders);
  const published = performance.now();
  await until(async () => (await storedOrders()) >= flags.orders, `${flags.orders} stored orders`, 50);
  const stored = performance.now();
  const outcomes = await consumedOutcomes(service.url);

  // setupRequest also runs ahead of sending (per connection at start and after the last answer), so keep spares.
  const spares = (connections: number) => 2 * connections + 2;
  const warmupConnections = Math.min(8, Math.max(1, flags.warmup));
  const needed =
    flags.warmup + spares(warmupConnections) + flags.levels.reduce((sum, c) => sum + flags.requests + spares(c), 0);
  if (orderIds.length < needed) {
    console.error(`bench: publishing ${needed - orderIds.length} more orders for the payments (untimed)`);
    orderIds.push(...(await publishOrders(bus, user.id, needed - orderIds.length)));
    await until(async () => (await storedOrders()) >= orderIds.length, `${orderIds.length} stored orders`, 50);
  }

  if (flags.warmup > 0) {
    console.error(`bench: warm-up, ${flags.warmup} payments`);
    const w = await payAll(service.url, token, orderIds, warmupConnections, flags.warmup);
    if (w.non2xx > 0 || w.errors > 0) throw new Error(`bench: warm-up got ${w.non2xx} non-2xx, ${w.errors} errors`);
  }

  const levels: LevelResult[] = [];
  for (const connections of flags.levels) {
    if (cleaning) throw new Error('bench: stopped');
    console.error(`bench: ${flags.requests} payments at concurrency ${connections}`);
    const r = await payAll(service.url, token, orderIds, connections, flags.requests);
    const statusCodes = Object.fromEntries(
      Object.entries(r.statusCodeStats ?? {}).map(([status, v]) => [status, v.count ?? 0]),
    );
    if (r.non2xx > 0 || r.errors > 0) {
      throw new Error(
        `bench: FAILED at concurrency ${connections}: every payment must answer 2xx, got ` +
          `${JSON.stringify(statusCodes)} and ${r.errors} connection errors (${r.timeouts} timeouts)`,
      );
    }
    const seconds = (r.finish.getTime() - r.start.getTime()) / 1000;
    levels.push({
      concurrency: connections,
      requests: r.requests.total,
      seconds,
      requestsPerSecond: r.requests.total / seconds,
      p50: r.latency.p50,
      p90: r.latency.p90,
      p99: r.latency.p99,
      max: r.latency.max,
      ok: r['2xx'],
      non2xx: r.non2xx,
      errors: r.errors,
      statusCodes,
    });
  }
  const lastAnswer = performance.now();
  // Shutdown publishes what is left in the outbox, so a backlog would outlast SHUTDOWN_TIMEOUT_MS.
  console.error('bench: waiting for the outbox to publish every payment:created');
  const backlog = async () => (await scrape(service.url, 'outbox_backlog_events'))[0]?.value ?? NaN;
  // The backlog gauge scans the payments collection: polled slowly so as not to compete with the relay.
  await until(async () => (await backlog()) === 0, 'an empty outbox', 500);
  const outboxDrainSeconds = (performance.now() - lastAnswer) / 1000;
  const total = async (name: string) => (await scrape(service.url, name)).reduce((sum, m) => sum + m.value, 0);
  const providerCalls = await total('payment_provider_call_seconds_count');
  const providerMeanMs = (1000 * (await total('payment_provider_call_seconds_sum'))) / providerCalls;
  const succeeded = await conn.collection('payments').countDocuments({ status: 'succeeded' });

  return {
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGiB: totalmem() / 2 ** 30,
      node: process.version,
      loadAverage: loadavg(),
    },
    logLevel: flags.logLevel,
    replication: {
      events: flags.orders,
      publishSeconds: (published - t0) / 1000,
      seconds: (stored - t0) / 1000,
      eventsPerSecond: flags.orders / ((stored - t0) / 1000),
      outcomes,
    },
    payments: levels,
    outboxDrainSeconds,
    provider: { calls: providerCalls, meanMs: providerMeanMs },
    // Each level's 2xx answers plus the warm-up's must each be one stored, succeeded payment.
    paymentsStored: { succeeded, expected: flags.warmup + levels.reduce((sum, l) => sum + l.ok, 0) },
  };
}

async function main(): Promise<void> {
  let interrupted = false;
  process.once('uncaughtException', (err) => {
    console.error('bench: uncaught error:', err);
    void cleanup().finally(() => process.exit(1));
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      console.error(`bench: ${signal}, stopping the service and the servers`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    const flags = readFlags();
    const report = await run(flags);
    console.log(formatReport(report));
    if (flags.json) writeFileSync(flags.json, `${JSON.stringify(report, null, 2)}\n`);
    const { succeeded, expected } = report.paymentsStored;
    if (succeeded !== expected) {
      throw new Error(`bench: FAILED, ${succeeded} succeeded payments stored, expected ${expected}`);
    }
  } catch (err) {
    if (!interrupted) {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    }
  } finally {
    await cleanup();
  }
}

void main();
