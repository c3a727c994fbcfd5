import { setTimeout as sleep } from 'node:timers/promises';
import mongoose from 'mongoose';
import { busClient, newId, signToken, testEnv, uniqueName, type TestUser } from './harness';
import { storedMessages } from './nats-monitor';
import { spawnService, type ServiceProcess } from './process';
import { freePort, startNatsStreaming } from './servers';
import { startStripeProxy } from './stripe-proxy';

export interface ChaosOptions {
  payments: number;
  clients: number;
  /** New payments started per second, all clients together: a run long enough for the faults to land. */
  ratePerSecond: number;
  /** NATS Streaming is stopped and started again this often. */
  natsEveryMs: number;
  /** The service is killed with SIGKILL and started again this often. */
  serviceEveryMs: number;
  /** How long after the last answer every payment must be settled and published. */
  settleMs: number;
  /** The database is killed and started again this often, by `restart` (off without it). */
  db?: { everyMs: number; restart(): Promise<void> };
  log?: (line: string) => void;
}

export interface ChaosReport {
  payments: number;
  seconds: number;
  natsRestarts: number;
  serviceKills: number;
  dbRestarts: number;
  /** Orders the provider charged under more than one idempotency key. */
  doubleCharges: number;
  /** Orders the provider charged whose payment did not end succeeded. */
  chargedNotSucceeded: number;
  /** Succeeded payments with no payment:created stored on the server. */
  lostEvents: number;
  /** Copies of payment:created beyond the first, by eventId (allowed: delivery is at least once). */
  duplicateMessages: number;
  /** Payments still pending after the settle time. */
  stuckPending: number;
  /** Final answers to the clients other than 201, by status. */
  not201: Record<string, number>;
  clientRetries: number;
}

/**
 * Pays `payments` orders from `clients` clients that retry with their
 * Idempotency-Keys, while NATS Streaming is restarted and the service is killed
 * and restarted, then counts what matters to money: double charges, charges
 * without a succeeded payment, lost and duplicated events, stuck payments.
 * Everything is read at its source: the provider's charges at a counting proxy,
 * the messages on the NATS Streaming server, the payments in the database.
 */
export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? (() => undefined);
  const nats = await startNatsStreaming({ fileStore: true });
  const stripe = await startStripeProxy(process.env.STRIPE_MOCK_URL as string);
  const db = uniqueName('chaos');
  const conn = await mongoose.createConnection(`${process.env.TEST_MONGO_URI}/${db}`).asPromise();
  const port = await freePort();
  const env = () =>
    testEnv(nats, db, {
      PORT: String(port),
      STRIPE_API_BASE: stripe.url,
      PROVIDER_TIMEOUT_MS: '2000',
      PAYMENTS_RECONCILE_AFTER_MS: '5000',
      PAYMENTS_RECONCILE_INTERVAL_MS: '1000',
      OUTBOX_INTERVAL_MS: '500',
      // A new client id at every start, as a new pod has.
      NATS_CLIENT_ID: uniqueName('chaos'),
    });
  let service: ServiceProcess = await spawnService(env());
  const stopped: Promise<unknown>[] = [];
  let stopping = false;
  let natsRestarts = 0;
  let serviceKills = 0;
  let dbRestarts = 0;
  try {
    await service.ready();
    const user: TestUser = { id: newId(), email: 'chaos@test.io' };
    const token = signToken(user);
    const peer = await busClient(nats);
    const orderIds = Array.from({ length: opts.payments }, () => newId());
    for (const id of orderIds) {
      await peer.publish('order:created', {
        id,
        version: 0,
        status: 'created',
        userId: user.id,
        ticket: { id: newId(), price: 12.34 },
      });
    }
    await peer.close();
    const orders = conn.collection('orders');
    while ((await orders.countDocuments()) < opts.payments) await sleep(100);

    // Faults: NATS Streaming stopped and started, the service killed and started, on their own clocks.
    const faults = async (everyMs: number, fault: () => Promise<void>) => {
      while (!stopping) {
        await sleep(everyMs);
        if (stopping) return;
        await fault().catch((err: unknown) => log(`fault failed: ${String(err)}`));
      }
    };
    stopped.push(
      faults(opts.natsEveryMs, async () => {
        await nats.stop();
        await sleep(300);
        await nats.start();
        natsRestarts++;
      }),
      faults(opts.serviceEveryMs, async () => {
        await service.kill('SIGKILL');
        serviceKills++;
        service = await spawnService(env());
        await service.ready(60_000);
      }),
    );
    const { db: database } = opts;
    if (database) {
      stopped.push(
        faults(database.everyMs, async () => {
          await database.restart();
          dbRestarts++;
        }),
      );
    }

    const not201: Record<string, number> = {};
    let clientRetries = 0;
    let next = 0;
    let answered = 0;
    const started = Date.now();
    // The n-th payment starts no sooner than n / rate seconds into the run.
    const slot = async (n: number) => {
      const wait = started + (n * 1000) / opts.ratePerSecond - Date.now();
      if (wait > 0) await sleep(wait);
    };
    const pay = async (orderId: string) => {
      const key = `chaos-${orderId}`;
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) clientRetries++;
        const res = await fetch(`http://127.0.0.1:${port}/api/payments`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify({ token: 'tok_visa', orderId }),
          signal: AbortSignal.timeout(10_000),
        }).then(
          async (r) => ({
            status: r.status,
            body: (await r.json().catch(() => ({}))) as { errors?: { code?: string }[] },
          }),
          () => null,
        );
        const retry =
          res === null ||
          res.status >= 500 ||
          (res.status === 409 && res.body.errors?.[0]?.code === 'idempotency_key_in_use');
        if (!retry) {
          if (res.status !== 201) not201[res.status] = (not201[res.status] ?? 0) + 1;
          return;
        }
        if (Date.now() - started > 20 * 60_000) throw new Error(`order ${orderId} never answered`);
        await sleep(200);
      }
    };
    await Promise.all(
      Array.from({ length: opts.clients }, async () => {
        while (next < orderIds.length) {
          const n = next++;
          await slot(n);
          await pay(orderIds[n] as string);
          if (++answered % 100 === 0) log(`${answered} of ${orderIds.length} payments answered`);
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    stopping = true;
    await Promise.all(stopped);
    await nats.start();
    await service.ready(60_000);

    // Settled: nothing pending, nothing left in the outbox; then count.
    const payments = conn.collection('payments');
    const unsettled = async () =>
      (await payments.countDocuments({ status: 'pending' })) +
      (await conn.collection('payments_pending').countDocuments());
    const deadline = Date.now() + opts.settleMs;
    while (Date.now() < deadline) {
      const pending = await unsettled();
      const backlog = await conn.collection('outbox').countDocuments();
      if (pending === 0 && backlog === 0) break;
      await sleep(250);
    }
    const all = await payments.find({}).toArray();
    const succeeded = all.filter((p) => p.status === 'succeeded');
    const messages = (await storedMessages(nats, 'payment:created')) as { eventId: string; id: string }[];
    const published = new Set(messages.map((m) => m.id));
    const copies = new Map<string, number>();
    for (const m of messages) copies.set(m.eventId, (copies.get(m.eventId) ?? 0) + 1);

    const keysByOrder = new Map<string, Set<string>>();
    for (const c of stripe.chargesMade()) {
      const orderId = new URLSearchParams(c.body).get('metadata[orderId]') ?? '?';
      keysByOrder.set(orderId, (keysByOrder.get(orderId) ?? new Set()).add(c.idempotencyKey ?? ''));
    }
    const succeededOrders = new Set(succeeded.map((p) => String(p.orderId)));
    return {
      payments: opts.payments,
      seconds,
      natsRestarts,
      serviceKills,
      dbRestarts,
      doubleCharges: [...keysByOrder.values()].filter((keys) => keys.size > 1).length,
      chargedNotSucceeded: [...keysByOrder.keys()].filter((o) => !succeededOrders.has(o)).length,
      lostEvents: succeeded.filter((p) => !published.has(String(p._id))).length,
      duplicateMessages: [...copies.values()].reduce((n, c) => n + c - 1, 0),
      // Settled payments leave the pending ones within a second: what is still there is stuck.
      stuckPending: await unsettled(),
      not201,
      clientRetries,
    };
  } finally {
    stopping = true;
    await Promise.allSettled(stopped);
    await service.kill('SIGTERM');
    await conn.close();
    await stripe.close();
    await nats.stop();
  }
}
