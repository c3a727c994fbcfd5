import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import jwt from 'jsonwebtoken';
import mongoose from 'mongoose';
import { createOrderStore } from '../src/db/orders';
import { createPaymentStore } from '../src/db/payments';
import { apply, paymentIdFor, start, succeed } from '../src/domain/payment';
import { createLogger } from '../src/log';
import { busClient, newId, type BusClient } from '../test/support/harness';
import { spawnService, type ServiceProcess } from '../test/support/process';
import {
  freePort,
  startFerretDb,
  startJetStream,
  startKafka,
  startNatsStreaming,
  startStripeMock,
  type BusKind,
  type BusServer,
  type FerretStore,
} from '../test/support/servers';
import { explainFailure, failureCollector } from './bench/failures';
import { commandsPerPayment, cpuPerPayment, ferretCommands, sampleCpu, type Groups } from './bench/cpu';
import { laneTotals, laneUse, type LaneUse } from './bench/lane';
import { startFloor, type Floor } from './bench/floor';
import { measureLists } from './bench/lists';
import { metricIn, scrape } from './bench/metrics';
import { summarize } from './bench/profile';
import { formatReport, type Level, type Measured, type Report, type Run } from './bench/report';

const USAGE = `Usage: npm run bench -- [options]
  --bus NAME          the transport: stan (NATS Streaming, file store), jetstream or kafka (default stan)
  --stores LIST       FerretDB storage to run on: sqlite, postgresql or both (default sqlite,postgresql)
  --stored LIST       payments (and orders) already stored before measuring (default 0,20000)
  --requests N        payments per concurrency level, for the service and for the floor (default 1000)
  --concurrency LIST  concurrency levels (default 1,8,32)
  --orders K          order:created events replicated, timed (default 2000)
  --warmup N          untimed payments before the first level (default 60)
  --rounds N          turns the floor and the service take at each level; figures are medians (default 3)
  --list-samples N    times each kind of GET /api/payments is timed when payments are stored (default 5)
  --profile           run the service under node --cpu-prof and summarise where its time went
  --stock-ferretdb    FerretDB without the _id index fix (FERRETDB_STOCK=1 scripts/provision.sh builds it)
  --log-level LEVEL   the service's LOG_LEVEL (default warn)
  --json FILE         also write the raw numbers to FILE`;

function readFlags() {
  const { values } = parseArgs({
    options: {
      bus: { type: 'string', default: 'stan' },
      stores: { type: 'string', default: 'sqlite,postgresql' },
      stored: { type: 'string', default: '0,20000' },
      requests: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '1,8,32' },
      orders: { type: 'string', default: '2000' },
      warmup: { type: 'string', default: '60' },
      rounds: { type: 'string', default: '3' },
      'list-samples': { type: 'string', default: '5' },
      profile: { type: 'boolean', default: false },
      'stock-ferretdb': { type: 'boolean', default: false },
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
  const list = (name: string, text: string, min: number) => text.split(',').map((t) => count(name, t.trim(), min));
  const stores = values.stores.split(',').map((s) => s.trim());
  for (const s of stores) {
    if (s !== 'sqlite' && s !== 'postgresql') throw new Error(`--stores takes sqlite and postgresql\n${USAGE}`);
  }
  if (!['stan', 'jetstream', 'kafka'].includes(values.bus))
    throw new Error(`--bus takes stan, jetstream or kafka\n${USAGE}`);
  return {
    bus: values.bus as BusKind,
    stores: stores as FerretStore[],
    stored: list('stored', values.stored, 0),
    requests: count('requests', values.requests, 1),
    levels: list('concurrency', values.concurrency, 1),
    orders: count('orders', values.orders, 1),
    warmup: count('warmup', values.warmup, 0),
    rounds: count('rounds', values.rounds, 1),
    listSamples: count('list-samples', values['list-samples'], 1),
    profile: values.profile,
    stock: values['stock-ferretdb'],
    logLevel: values['log-level'],
    json: values.json,
  };
}
type Flags = ReturnType<typeof readFlags>;

/** Cleanups run once, last registered first, whether a run ends, fails or is interrupted. */
let cleanups: (() => Promise<unknown>)[] = [];
let interrupted = false;
async function cleanup(): Promise<void> {
  for (let c = cleanups.pop(); c; c = cleanups.pop()) {
    await c().catch((err: unknown) => console.error('bench: cleanup failed:', err));
  }
}
const later = <T>(thing: T, stop: (t: T) => Promise<unknown>) => {
  cleanups.push(() => stop(thing));
  return thing;
};

async function until(probe: () => Promise<boolean>, what: string, everyMs: number, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (interrupted) throw new Error('bench: stopped');
    if (Date.now() > deadline) throw new Error(`bench: ${what} not reached in ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Every 201 must be one succeeded payment. Its stored copy (the projection) follows the answer: by a
 * moment where an update by _id is indexed, by tens of seconds on FerretDB's PostgreSQL handler, which
 * scans the collection for each. Waits while the copies move, fails when they stop short, and answers
 * the seconds from `since` until all were there.
 */
async function allSucceeded(
  conn: mongoose.Connection,
  expected: number,
  serviceOutput: () => string,
  since: number,
): Promise<number> {
  const succeeded = () => conn.collection('payments').countDocuments({ status: 'succeeded' });
  for (let last = -1, movedAt = performance.now(); ;) {
    const now = await succeeded();
    if (now === expected) return (performance.now() - since) / 1000;
    if (now > expected) throw new Error(`bench: ${now} succeeded payments, expected ${expected}`);
    if (now > last) [last, movedAt] = [now, performance.now()];
    else if (performance.now() - movedAt > 30_000) {
      const headline = `bench: ${now} succeeded payments stored, expected ${expected}, none more in 30 s`;
      throw new Error(explainFailure(headline, serviceOutput()));
    }
    if (interrupted) throw new Error('bench: stopped');
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The sum of one metric's samples from the service's /metrics, those whose labels contain `labels`. */
async function metric(url: string, name: string, labels = ''): Promise<number> {
  return metricIn(await scrape(url), name, labels);
}

/** The payload of order:created as the orders service publishes it. */
const orderCreated = (userId: string) => ({
  id: newId(),
  version: 0,
  status: 'created',
  userId,
  expiresAt: new Date(Date.now() + 60 * 60_000).toISOString(),
  ticket: { id: newId(), price: 20 },
});

async function publishOrders(bus: BusClient, subject: 'order:created', userId: string, count: number) {
  const orders = Array.from({ length: count }, () => orderCreated(userId));
  for (let i = 0; i < orders.length; i += 500) {
    await Promise.all(orders.slice(i, i + 500).map((o) => bus.publish(subject, o)));
  }
  return orders.map((o) => o.id);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** The floor's payments at one concurrency: each worker pays orders one after the other. */
async function floorLevel(floor: Floor, orderIds: string[], connections: number, amount: number) {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < amount) {
        const orderId = orderIds[next++] as string;
        const s = performance.now();
        await floor.pay(orderId);
        latencies.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: amount / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function serviceLevel(url: string, token: string, orderIds: string[], connections: number, amount: number) {
  let next = 0;
  let last = 0;
  const t0 = performance.now();
  const failures = failureCollector();
  let instance!: autocannon.Instance;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url,
        connections,
        amount,
        timeout: 30,
        requests: [
          {
            method: 'POST',
            path: '/api/payments',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            // An order is paid once: every request carries an order of its own.
            setupRequest: (req) => {
              const orderId = orderIds[next++];
              if (!orderId) throw new Error('bench: ran out of orders');
              return { ...req, body: JSON.stringify({ token: 'tok_visa', orderId }) };
            },
            onResponse: (status, body, _context, headers) =>
              failures.onResponse(status, body, (headers ?? {}) as Record<string, unknown>),
          },
        ],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
  // autocannon notices the end on its one-second tick: the last answer's time is the end.
  instance.on('response', () => (last = performance.now()));
  instance.on('reqError', (err: Error) => failures.onError(err));
  const r = await done;
  const statusCodes = Object.fromEntries(
    Object.entries(r.statusCodeStats ?? {}).map(([status, v]) => [status, v.count ?? 0]),
  );
  return {
    perSecond: r.requests.total / ((last - t0) / 1000),
    p50: r.latency.p50,
    p99: r.latency.p99,
    ok: r['2xx'],
    failed: r.non2xx + r.errors,
    statusCodes,
    failures,
  };
}

/**
 * `count` paid orders and their payments, written by the service's own stores (as
 * the service writes them, without the provider), and as many for the floor. One
 * payment in a hundred is the bench user's, the others are a hundred other users'.
 */
async function preload(conn: mongoose.Connection, benchUserId: string, count: number) {
  const users = [benchUserId, ...Array.from({ length: 99 }, () => newId())];
  const orders = createOrderStore(conn);
  const clock = { now: () => new Date() };
  const payments = createPaymentStore(conn, {
    consequences: { dispatch: async () => undefined },
    clock,
    log: createLogger({ level: 'silent' }),
  });
  await Promise.all([orders.init(), payments.init()]);
  const floorPayments = conn.getClient().db(conn.name).collection('floor_payments');
  for (let i = 0; i < count; i += 250) {
    await Promise.all(
      Array.from({ length: Math.min(250, count - i) }, async (_, j) => {
        const orderId = newId();
        const userId = users[(i + j) % users.length] as string;
        const at = new Date();
        await orders.add({
          id: orderId,
          version: 0,
          status: 'created',
          userId,
          amount: 2000,
          currency: 'usd',
          paidBy: null,
          arrived: true,
        });
        const p = start({
          id: paymentIdFor(orderId, 0),
          orderId,
          userId,
          amount: 2000,
          currency: 'usd',
          source: 'tok_visa',
          requestKey: null,
          at,
          dueAt: at,
        });
        await payments.start(p);
        const change = succeed(p, `ch_preload_${i}`, at);
        await payments.record(change, apply(p, change));
        await payments.idle();
        await floorPayments.insertOne({ _id: new mongoose.Types.ObjectId(), orderId, amount: 2000, stripeId: 'ch_x' });
      }),
    );
  }
}

type Turn = { cpu: Record<string, number> | null; commands: Record<string, number> | null };

/** The floor's and the service's costs, averaged over the rounds (each the same number of payments). */
function averageCosts(turns: { floor: Turn; service: Turn }[]): Pick<Level, 'cpu' | 'commands'> {
  const mean = (tables: (Record<string, number> | null)[]) => {
    if (tables.length === 0 || tables.some((t) => t === null)) return null;
    const keys = new Set(tables.flatMap((t) => Object.keys(t ?? {})));
    return Object.fromEntries([...keys].map((k) => [k, tables.reduce((s, t) => s + (t?.[k] ?? 0), 0) / tables.length]));
  };
  const both = (pick: (t: Turn) => Record<string, number> | null) => {
    const [floor, service] = [mean(turns.map((t) => pick(t.floor))), mean(turns.map((t) => pick(t.service)))];
    return floor && service ? { floor, service } : undefined;
  };
  const [cpu, commands] = [both((t) => t.cpu), both((t) => t.commands)];
  return { ...(cpu && { cpu }), ...(commands && { commands }) };
}

/** Every transport with files, as production runs it. */
function startBus(kind: BusKind): Promise<BusServer> {
  if (kind === 'jetstream') return startJetStream();
  if (kind === 'kafka') return startKafka();
  return startNatsStreaming({ fileStore: true });
}

async function runOnce(flags: Flags, store: FerretStore, stored: number): Promise<Run> {
  const label = `${store}, ${stored} stored`;
  const [ferret, nats, stripe] = await Promise.all([
    startFerretDb({ store, stock: flags.stock, metrics: true }).then((s) => later(s, (x) => x.stop())),
    startBus(flags.bus).then((s) => later(s, (x) => x.stop())),
    startStripeMock().then((s) => later(s, (x) => x.stop())),
  ]);
  const mongoUri = `${ferret.url}/payments`;
  const jwtKey = randomBytes(32).toString('hex');
  const profileDir = flags.profile ? mkdtempSync(join(tmpdir(), 'payments-profile-')) : undefined;
  const service: ServiceProcess = await spawnService(
    {
      NODE_ENV: 'production',
      LOG_LEVEL: flags.logLevel,
      PORT: String(await freePort()),
      JWT_KEY: jwtKey,
      MONGO_URI: mongoUri,
      // Configured for the store, as an operator would: SQLite takes one writer at a time.
      MONGO_WRITES_IN_FLIGHT: store === 'sqlite' ? '1' : '0',
      ...nats.env,
      NATS_CLIENT_ID: 'payments-bench',
      PAYMENT_PROVIDER: 'stripe',
      STRIPE_KEY: 'sk_test_bench',
      STRIPE_API_BASE: stripe.url,
    },
    { built: true, nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [] },
  );
  let profile: string | undefined;
  const stopService = async () => {
    const killer = setTimeout(() => void service.kill('SIGKILL'), 15_000);
    const { code, signal } = await service.kill('SIGTERM');
    clearTimeout(killer);
    if (code !== 0) throw new Error(`the service ended with ${code ?? signal}:\n${service.output().slice(-4000)}`);
    if (profileDir) {
      profile = summarize(profileDir);
      rmSync(profileDir, { recursive: true, force: true });
    }
  };
  cleanups.push(() => stopService().catch(() => service.kill('SIGKILL')));
  await service.ready();
  const conn = later(await mongoose.createConnection(mongoUri).asPromise(), (c) => c.close());
  const bus = later(await busClient(nats), (b) => b.close());
  const floor = later(await startFloor({ mongoUri, bus: nats, stripeUrl: stripe.url }), (f) => f.close());
  const user = { id: newId(), email: 'bench@example.test' };
  const token = jwt.sign(user, jwtKey, { algorithm: 'HS256', expiresIn: '2h' });
  const adminToken = jwt.sign({ id: newId(), email: 'admin@example.test', role: 'admin' }, jwtKey, {
    algorithm: 'HS256',
    expiresIn: '2h',
  });
  const consumed = () => metric(service.url, 'events_consumed_total', 'subject="order:created"');

  if (stored > 0) {
    console.error(`bench [${label}]: storing ${stored} paid orders for the service and ${stored} floor payments`);
    await preload(conn, user.id, stored);
  }

  console.error(`bench [${label}]: replicating ${flags.orders} order:created, then the bare insert loop`);
  let t0 = performance.now();
  const orderIds = await publishOrders(bus, 'order:created', user.id, flags.orders);
  await until(async () => (await consumed()) >= flags.orders, `${flags.orders} consumed orders`, 20);
  const serviceReplication = flags.orders / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  const bare = floor.replicate('floor:order:created', flags.orders);
  await publishOrders(bus, 'floor:order:created' as 'order:created', user.id, flags.orders);
  await bare;
  const floorReplication = flags.orders / ((performance.now() - t0) / 1000);

  // Orders for the payments: the floor reads them, the service pays them.
  const needed = 2 * flags.warmup + flags.levels.length * (flags.requests + flags.rounds * 64 + flags.rounds);
  if (orderIds.length < needed) {
    const more = needed - orderIds.length;
    orderIds.push(...(await publishOrders(bus, 'order:created', user.id, more)));
    await until(async () => (await consumed()) >= orderIds.length, `${orderIds.length} consumed orders`, 50);
  }
  const floorOrders = [...orderIds];
  const serviceOrders = [...orderIds];

  if (flags.warmup > 0) {
    console.error(`bench [${label}]: warm-up, ${flags.warmup} payments each`);
    await floorLevel(floor, floorOrders.splice(0, flags.warmup), 8, flags.warmup);
    const w = await serviceLevel(service.url, token, serviceOrders.splice(0, flags.warmup + 16), 8, flags.warmup);
    if (w.failed > 0) {
      throw new Error(
        explainFailure(`bench: warm-up got ${JSON.stringify(w.statusCodes)}`, service.output(), w.failures),
      );
    }
  }

  const groups = (): Groups => ({
    bench: { pids: [process.pid], self: true },
    service: { pids: service.pid === undefined ? [] : [service.pid] },
    store: { pids: ferret.pids() },
    bus: { pids: nats.pids() },
    stripe: { pids: stripe.pids() },
  });
  // What one turn cost each process, and which commands it sent FerretDB.
  const turn = async <T>(payments: number, run: () => Promise<T>) => {
    const [cpu, commands] = [sampleCpu(groups()), await ferretCommands(ferret.metricsUrl)];
    const result = await run();
    return {
      result,
      cpu: cpuPerPayment(cpu, sampleCpu(groups()), payments),
      commands: commandsPerPayment(commands, await ferretCommands(ferret.metricsUrl), payments),
    };
  };

  const levels: Level[] = [];
  let outboxDrainSeconds = NaN;
  // When the last level's last answer came.
  let answered = 0;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  for (const connections of flags.levels) {
    console.error(
      `bench [${label}]: ${flags.requests} payments at concurrency ${connections}, in ${flags.rounds} rounds`,
    );
    // Floor and service take turns, so that a slow moment of the machine falls on both.
    const perRound = Math.ceil(flags.requests / flags.rounds);
    const rounds: { floor: Measured; service: Awaited<ReturnType<typeof serviceLevel>> }[] = [];
    const costs: { floor: Turn; service: Turn }[] = [];
    const lanes: LaneUse[] = [];
    for (let r = 0; r < flags.rounds; r++) {
      const floorTurn = await turn(perRound, () =>
        floorLevel(floor, floorOrders.splice(0, perRound), connections, perRound),
      );
      const laneBefore = laneTotals(await scrape(service.url));
      const serviceStarted = performance.now();
      const serviceTurn = await turn(perRound, () =>
        serviceLevel(service.url, token, serviceOrders.splice(0, perRound + 64), connections, perRound),
      );
      const laneAfter = laneTotals(await scrape(service.url));
      const lane = laneUse(laneBefore, laneAfter, (performance.now() - serviceStarted) / 1000, perRound);
      if (lane) lanes.push(lane);
      const [f, s] = [floorTurn.result, serviceTurn.result];
      costs.push({ floor: floorTurn, service: serviceTurn });
      answered = performance.now();
      if (s.failed > 0) {
        throw new Error(
          explainFailure(
            `bench: FAILED at concurrency ${connections}: every payment must answer 2xx, got ${JSON.stringify(s.statusCodes)}`,
            service.output(),
            s.failures,
          ),
        );
      }
      rounds.push({ floor: f, service: s });
    }
    await until(async () => (await metric(service.url, 'outbox_backlog_events')) === 0, 'an empty outbox', 20);
    outboxDrainSeconds = (performance.now() - answered) / 1000;
    const pick = (side: 'floor' | 'service', k: keyof Measured) => median(rounds.map((x) => x[side][k]));
    const ratios = rounds.map((x) => x.service.perSecond / x.floor.perSecond);
    levels.push({
      concurrency: connections,
      floor: { perSecond: pick('floor', 'perSecond'), p50: pick('floor', 'p50'), p99: pick('floor', 'p99') },
      service: {
        perSecond: pick('service', 'perSecond'),
        p50: pick('service', 'p50'),
        p99: pick('service', 'p99'),
        ok: rounds.reduce((n, x) => n + x.service.ok, 0),
        failed: 0,
        statusCodes: {},
      },
      ratio: median(ratios),
      ratioRange: [Math.min(...ratios), Math.max(...ratios)],
      ...averageCosts(costs),
      ...(lanes.length > 0 && {
        lane: {
          busy: median(lanes.map((l) => l.busy)),
          writesPerPayment: median(lanes.map((l) => l.writesPerPayment)),
          waitMs: median(lanes.map((l) => l.waitMs)),
        },
      }),
    });
  }

  const expected = stored + flags.warmup + levels.reduce((sum, l) => sum + l.service.ok, 0);
  const projectedSeconds = await allSucceeded(conn, expected, service.output, answered);

  let lists;
  if (stored > 0) {
    console.error(`bench [${label}]: GET /api/payments, ${flags.listSamples} times per kind`);
    lists = await measureLists({
      url: service.url,
      adminToken,
      userToken: token,
      userId: user.id,
      conn,
      samples: flags.listSamples,
    });
  }

  await cleanup();
  return {
    store,
    stored,
    replication: { service: serviceReplication, floor: floorReplication },
    levels,
    outboxDrainSeconds,
    projectedSeconds,
    ...(lists && { lists }),
    ...(profile && { profile }),
  };
}

async function main(): Promise<void> {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      console.error(`bench: ${signal}, stopping the service and the servers`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    const flags = readFlags();
    const report: Report = {
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: cpus().length,
        memoryGiB: totalmem() / 2 ** 30,
        node: process.version,
        loadAverage: loadavg(),
      },
      ferretdb: flags.stock ? 'v1.24.2 (stock)' : 'v1.24.2 with the _id index fix',
      bus: flags.bus,
      requests: flags.requests,
      runs: [],
    };
    for (const store of flags.stores) {
      for (const stored of flags.stored) {
        cleanups = [];
        report.runs.push(await runOnce(flags, store, stored));
      }
    }
    console.log(formatReport(report));
    if (flags.json) writeFileSync(flags.json, `${JSON.stringify(report, null, 2)}\n`);
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
