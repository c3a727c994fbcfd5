/**
 * What `npm run demo` runs: FerretDB, NATS Streaming and a Stripe stand-in on loopback (built once by
 * scripts/provision.sh), and the service as its own process, its log written to a file.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mongoose, { Types } from 'mongoose';
import { spawnService, type ServiceProcess } from '../../test/support/process';
import { startFerretDb, startLocalstripe, startNatsStreaming, type RunningServer } from '../../test/support/servers';
import { DEMO_DIR } from './session';

export type DemoProvider = 'localstripe' | 'simulator';

export async function startDemoStack(opts: { provider: DemoProvider; port: number; say: (line: string) => void }) {
  const running: RunningServer[] = [];
  let service: ServiceProcess | undefined;
  let db: mongoose.Connection | undefined;
  const stop = async () => {
    await db?.close();
    await service?.kill('SIGTERM');
    await Promise.all(running.map((s) => s.stop()));
  };
  try {
    const t0 = Date.now();
    const [mongo, bus, stripe] = await Promise.all([
      startFerretDb(),
      startNatsStreaming(),
      opts.provider === 'localstripe' ? startLocalstripe() : Promise.resolve(null),
    ]);
    running.push(mongo, bus, ...(stripe ? [stripe] : []));
    opts.say(`servers up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    mkdirSync(DEMO_DIR, { recursive: true });
    const logFile = join(DEMO_DIR, 'service.log');
    writeFileSync(logFile, '');
    // A key of this run's own: cookies of an earlier run stop working, as after a key rotation.
    const jwtKey = randomBytes(16).toString('hex');
    const t1 = Date.now();
    service = await spawnService(
      {
        PORT: String(opts.port),
        NODE_ENV: 'development',
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
        JWT_KEY: jwtKey,
        MONGO_URI: `${mongo.url}/payments`,
        // FerretDB on SQLite takes one writer at a time.
        MONGO_WRITES_IN_FLIGHT: '1',
        NATS_URL: bus.url,
        NATS_CLUSTER_ID: bus.clusterId,
        NATS_CLIENT_ID: 'payments-demo',
        PAYMENT_PROVIDER: stripe ? 'stripe' : 'simulator',
        ...(stripe && { STRIPE_KEY: 'sk_test_demo', STRIPE_API_BASE: stripe.url }),
      },
      { logFile },
    );
    await service.ready();
    opts.say(`service up in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    db = await mongoose.createConnection(`${mongo.url}/payments`).asPromise();
    const orders = db.collection('orders');

    return {
      mongo,
      bus,
      stripe,
      service,
      jwtKey,
      logFile,
      /** Resolves once the service has stored the order that order:created announced. */
      async orderStored(id: string, timeoutMs = 10_000): Promise<void> {
        const deadline = Date.now() + timeoutMs;
        while (!(await orders.findOne({ _id: new Types.ObjectId(id) }))) {
          if (Date.now() > deadline) throw new Error(`the service did not store order ${id} in ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 50));
        }
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw Object.assign(err as Error, { serviceOutput: service?.output() });
  }
}
export type DemoStack = Awaited<ReturnType<typeof startDemoStack>>;
