import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';

/** Where scripts/provision.sh caches the server binaries. */
export const CACHE = process.env.PAYMENTS_SERVERS_CACHE ?? join(homedir(), '.cache', 'payments-servers');
const bin = (name: string) => join(CACHE, 'bin', name);

/** Listens on the port (0: one the kernel picks) and closes it again: the port, or null if it was taken. */
function listenOnce(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(null));
    srv.listen(port, '127.0.0.1', () => {
      const bound = (srv.address() as { port: number }).port;
      srv.close(() => resolve(bound));
    });
  });
}

// The first port the kernel gives outgoing connections. A port from listen(0) is in that range, so a
// connection made before the server binds it can take it (seen in CI: a NATS server failed with "address
// already in use" on the Kafka pass, whose clients open many connections). Below it, ports are only listened on.
const EPHEMERAL_FROM = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 0;
  }
})();
const FIRST_PORT = 10000;
// Ports that fetch refuses to connect to (the Fetch standard's "bad ports"), from FIRST_PORT up: a monitor
// on one of them could not be read by the tests (seen in CI: "bad port" for NATS Streaming's on 10080).
const FETCH_REFUSES = new Set([10080]);
const handedOut = new Set<number>();

/** A port free to listen on now, and handed out once in this process. */
export async function freePort(): Promise<number> {
  for (let tries = 0; EPHEMERAL_FROM - FIRST_PORT > 2000 && tries < 100; tries++) {
    const port = FIRST_PORT + Math.floor(Math.random() * (EPHEMERAL_FROM - FIRST_PORT));
    if (handedOut.has(port) || FETCH_REFUSES.has(port) || (await listenOnce(port)) === null) continue;
    handedOut.add(port);
    return port;
  }
  const port = await listenOnce(0);
  if (port === null) throw new Error('no port to listen on');
  return port;
}

async function waitForPort(port: number, child: ChildProcess, name: string, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.connect(port, '127.0.0.1');
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error(`${name} did not open port ${port} within ${timeoutMs} ms`);
}

export interface RunningServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** The processes it was started as, while they run (the bench adds up their CPU and their children's). */
  pids(): number[];
}

const pidsOf = (child: ChildProcess | null): number[] =>
  child?.pid !== undefined && child.exitCode === null ? [child.pid] : [];

// Servers left by a run that failed or was cut short die with it.
const started = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});

async function run(name: string, cmd: string, args: string[], port: number, readyLine?: RegExp): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  started.add(child);
  child.once('exit', () => started.delete(child));
  let stderr = '';
  let ready = !readyLine;
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
    if (readyLine?.test(stderr)) ready = true;
  });
  try {
    await waitForPort(port, child, name);
    // Some servers open their port before they can serve (NATS Streaming recovers its store first).
    const deadline = Date.now() + 30000;
    while (!ready) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not become ready`);
      await sleep(25);
    }
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${stderr}`, { cause: err });
  }
  return child;
}

function stopper(child: ChildProcess): (signal?: NodeJS.Signals) => Promise<void> {
  return (signal = 'SIGTERM') =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(signal);
    });
}

export type FerretStore = 'sqlite' | 'postgresql';

/**
 * FerretDB as scripts/provision.sh builds it (v1.24.2 with its SQLite `_id` lookup fixed), on
 * SQLite in a fresh directory, or on a PostgreSQL server started for it. `stock` runs the
 * unfixed build (`FERRETDB_STOCK=1 scripts/provision.sh` makes it).
 */
export async function startFerretDb(
  opts: { store?: FerretStore; stock?: boolean; metrics?: boolean } = {},
): Promise<RunningServer & { metricsUrl?: string; restart(signal?: NodeJS.Signals, downMs?: number): Promise<void> }> {
  const port = await freePort();
  const debugPort = opts.metrics ? await freePort() : undefined;
  const debugAddr = debugPort === undefined ? '-' : `127.0.0.1:${debugPort}`;
  const args = [`--listen-addr=127.0.0.1:${port}`, '--state-dir=-', `--debug-addr=${debugAddr}`, '--telemetry=disable'];
  args.push('--log-level=warn', '--log-format=text');
  const cleanups: (() => Promise<void>)[] = [];
  let pg: RunningServer | undefined;
  if (opts.store === 'postgresql') {
    pg = await startPostgres();
    cleanups.push(pg.stop);
    args.push('--handler=postgresql', `--postgresql-url=${pg.url}`);
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'payments-ferretdb-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    args.push('--handler=sqlite', `--sqlite-url=file:${dir}/`);
  }
  const launch = () => run('ferretdb', bin(opts.stock ? 'ferretdb-stock' : 'ferretdb'), args, port);
  let child = await launch().catch(async (err: unknown) => {
    for (const c of cleanups) await c();
    throw err;
  });
  return {
    url: `mongodb://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await stopper(child)();
      for (const c of cleanups) await c();
    },
    /** Kills it and starts it again on the same port and storage, as a database that fails over. */
    async restart(signal: NodeJS.Signals = 'SIGKILL', downMs = 300) {
      await stopper(child)(signal);
      await sleep(downMs);
      child = await launch();
    },
    pids: () => [...pidsOf(child), ...(pg?.pids() ?? [])],
    ...(debugPort !== undefined && { metricsUrl: `http://${debugAddr}/debug/metrics` }),
  };
}

/** The PostgreSQL server binaries of Debian's packages, newest version first. */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions.map((v) => join(root, v, 'bin')).find((d) => existsSync(join(d, 'initdb')));
  if (!found) throw new Error('PostgreSQL is not installed: apt-get install postgresql');
  return found;
}

/**
 * A throwaway PostgreSQL on loopback with trust authentication. `initdb` refuses to run
 * as root, so as root the server runs as the `postgres` user that Debian's package creates.
 */
export async function startPostgres(): Promise<RunningServer> {
  const pgBin = postgresBin();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'payments-postgres-'));
  const asRoot = process.getuid?.() === 0;
  const as = (cmd: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const [initCmd, initArgs] = as(join(pgBin, 'initdb'), ['-D', dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  execFileSync(initCmd, [...initArgs, '--no-sync'], { stdio: 'ignore' });
  const [cmd, args] = as(join(pgBin, 'postgres'), [
    '-D',
    dir,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
  ]);
  const child = await run('postgres', cmd, args, port, /ready to accept connections/);
  const stop = stopper(child);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    pids: () => pidsOf(child),
  };
}

export async function startStripeMock(): Promise<RunningServer> {
  const port = await freePort();
  const https = await freePort();
  const child = await run(
    'stripe-mock',
    bin('stripe-mock'),
    ['-http-addr', `127.0.0.1:${port}`, '-https-addr', `127.0.0.1:${https}`],
    port,
  );
  return { url: `http://127.0.0.1:${port}`, port, stop: stopper(child), pids: () => pidsOf(child) };
}

export async function startLocalstripe(): Promise<RunningServer> {
  const port = await freePort();
  const python = join(CACHE, 'localstripe', 'bin', 'python');
  const script = join(__dirname, '..', '..', 'tools', 'localstripe', 'serve.py');
  const child = await run('localstripe', python, [script, String(port)], port);
  return { url: `http://127.0.0.1:${port}`, port, stop: stopper(child), pids: () => pidsOf(child) };
}

export type BusKind = 'stan' | 'jetstream' | 'kafka';

/** The transport the tests run on: TEST_BUS, NATS Streaming by default. */
export const testBus = (): BusKind => {
  const kind = process.env.TEST_BUS ?? 'stan';
  if (kind !== 'stan' && kind !== 'jetstream' && kind !== 'kafka') {
    throw new Error(`TEST_BUS=${kind}: stan, jetstream or kafka`);
  }
  return kind;
};

/** A bus server of one test file, whatever the transport. */
export interface BusServer extends RunningServer {
  kind: BusKind;
  /** The settings that point the service at it. */
  env: Record<string, string>;
  /** Starts it again after `stop()`; with a file store the same data comes back on the same port. */
  start(): Promise<void>;
  /** SIGTERM by default; SIGKILL stops it the way a crashed node does. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface NatsServer extends BusServer {
  kind: 'stan';
  clusterId: string;
  monitorPort: number;
}

export interface JetStreamServer extends BusServer {
  kind: 'jetstream';
}

/** The TEST_BUS server. `fileStore` matters to NATS Streaming only: the others always keep files. */
export function startBusServer(opts: { fileStore?: boolean } = {}): Promise<BusServer> {
  const kind = testBus();
  if (kind === 'jetstream') return startJetStream();
  if (kind === 'kafka') return startKafka();
  return startNatsStreaming(opts);
}

/**
 * A single-node Kafka in KRaft mode (broker and controller in one JVM), from the jars
 * scripts/provision.sh caches, with its log in a fresh directory so that a restart keeps
 * topics, messages and committed offsets.
 */
export async function startKafka(): Promise<BusServer> {
  // A port found free can be taken by another file's server before Kafka binds it: then Kafka
  // exits and the port answers for someone else. Start again on other ports.
  for (let attempt = 1; ; attempt++) {
    const server = await startKafkaOnce();
    if (await answersAsKafka(server.url)) return server;
    await server.stop('SIGKILL');
    if (attempt === 3) throw new Error(`Kafka did not answer on ${server.url}, three times`);
  }
}

/** True once a Kafka broker answers on `url` (a metadata request), false after 30 s. */
async function answersAsKafka(url: string): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'test-probe',
    brokers: [url],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  }).admin();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      await admin.connect();
      await admin.listTopics();
      return true;
    } catch {
      await sleep(250);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
  return false;
}

async function startKafkaOnce(): Promise<BusServer> {
  const libs = join(CACHE, 'kafka', 'libs');
  if (!existsSync(libs)) throw new Error('Kafka is not provisioned: scripts/provision.sh needs Maven and Java 17');
  const [port, controller] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'payments-kafka-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const props = join(dir, 'server.properties');
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controller}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'inter.broker.listener.name=PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`,
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      // A consumer group of one test is ready at once, not after the production default of 3 s.
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=false',
    ].join('\n'),
  );
  const java = (main: string, args: string[]) => [
    '-Xmx512m',
    '-XX:+UseSerialGC',
    '-cp',
    join(libs, '*'),
    main,
    ...args,
  ];
  const clusterId = randomBytes(16).toString('base64url');
  execFileSync('java', java('kafka.tools.StorageTool', ['format', `--cluster-id=${clusterId}`, '--config', props]), {
    stdio: 'ignore',
  });
  const args = java('kafka.Kafka', [props]);
  let child: ChildProcess | null = await run('kafka', 'java', args, port);
  const url = `127.0.0.1:${port}`;
  return {
    kind: 'kafka',
    url,
    port,
    env: { BUS: 'kafka', KAFKA_BROKERS: url },
    async start() {
      if (!child) child = await run('kafka', 'java', args, port);
    },
    async stop(signal?: NodeJS.Signals) {
      if (child) await stopper(child)(signal);
      child = null;
    },
    pids: () => pidsOf(child),
  };
}

/** nats-server with JetStream, storing in a fresh directory, so that a restart keeps streams and consumers. */
export async function startJetStream(): Promise<JetStreamServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'payments-jetstream-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir];
  const ready = /Server is ready/;
  let child: ChildProcess | null = await run('nats-server', bin('nats-server'), args, port, ready);
  const url = `nats://127.0.0.1:${port}`;
  return {
    kind: 'jetstream',
    url,
    port,
    env: { BUS: 'jetstream', NATS_URL: url },
    async start() {
      if (!child) child = await run('nats-server', bin('nats-server'), args, port, ready);
    },
    async stop(signal?: NodeJS.Signals) {
      if (child) await stopper(child)(signal);
      child = null;
    },
    pids: () => pidsOf(child),
  };
}

/** A NATS Streaming server of the test file's own, so that files never see each other's events. */
export async function startNatsStreaming(opts: { fileStore?: boolean } = {}): Promise<NatsServer> {
  const port = await freePort();
  const monitor = await freePort();
  const clusterId = 'test-cluster';
  const dir = opts.fileStore ? mkdtempSync(join(tmpdir(), 'payments-nats-')) : undefined;
  const args = ['-cid', clusterId, '-a', '127.0.0.1', '-p', String(port), '-m', String(monitor)];
  if (dir) args.push('-store', 'file', '-dir', dir);
  const ready = /Streaming Server is ready/;
  let child: ChildProcess | null = await run('nats-streaming-server', bin('nats-streaming-server'), args, port, ready);
  const url = `nats://127.0.0.1:${port}`;
  return {
    kind: 'stan',
    url,
    port,
    env: { BUS: 'stan', NATS_URL: url, NATS_CLUSTER_ID: clusterId },
    clusterId,
    monitorPort: monitor,
    async start() {
      if (!child) child = await run('nats-streaming-server', bin('nats-streaming-server'), args, port, ready);
    },
    async stop(signal?: NodeJS.Signals) {
      if (child) await stopper(child)(signal);
      child = null;
    },
    pids: () => pidsOf(child),
  };
}
