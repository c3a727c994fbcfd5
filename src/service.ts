import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import type { Config } from './config';
import { connectDb } from './db/connect';
import { createIdempotencyStore } from './db/idempotency-store';
import { createOrderStore } from './db/order-store';
import { createPaymentStore } from './db/payment-store';
import { createOrders } from './domain/orders';
import type { Clock, PaymentProvider } from './domain/payment';
import { createPayments } from './domain/payments';
import { registerListeners } from './events/listeners';
import { connectBus } from './events/nats-bus';
import { startOutboxRelay } from './events/outbox-relay';
import { createLogger, type Logger } from './log';
import { createMetrics, registerStateGauges } from './metrics';
import { createProvider } from './providers';
import { instrumentProvider } from './providers/instrument';
import { startReconciler } from './reconciler';

export interface ServiceOptions {
  log?: Logger;
  clock?: Clock;
  /** Replaces the configured provider (tests that need a provider no server imitates). */
  provider?: PaymentProvider;
  host?: string;
}

/**
 * Connects every dependency (failing after a bounded time), wires the doors
 * (HTTP, events) to the domain, starts the background jobs and listens.
 */
export async function startService(config: Config, opts: ServiceOptions = {}) {
  const log = opts.log ?? createLogger({ level: config.logLevel });
  const clock = opts.clock ?? { now: () => new Date() };
  const metrics = createMetrics();

  const db = await connectDb(config.mongoUri, log, config.bootTimeoutMs);
  const bus = await connectBus(config.nats, log, config.bootTimeoutMs).catch(async (err: unknown) => {
    await db.close();
    throw err;
  });

  const orderStore = createOrderStore(db.connection);
  const paymentStore = createPaymentStore(db.connection);
  const idempotency = createIdempotencyStore(db.connection, {
    ttlMs: config.idempotencyTtlMs,
    lockMs: config.reconcile.afterMs,
  });
  await Promise.all([orderStore.model.init(), paymentStore.model.init(), idempotency.model.init()]);

  const provider = instrumentProvider(opts.provider ?? createProvider(config.provider), metrics);
  const relay = startOutboxRelay({ payments: paymentStore, bus, log, metrics, intervalMs: config.outboxIntervalMs });
  const payments = createPayments({
    orders: orderStore,
    payments: paymentStore,
    provider,
    clock,
    leaseMs: config.reconcile.afterMs,
    onEventQueued: () => void relay.kick(),
  });
  registerListeners(bus, createOrders(orderStore, config.defaultCurrency), log, metrics);
  const reconciler = startReconciler({
    payments,
    sweepers: [
      (now) => idempotency.sweep(now),
      (now) => paymentStore.sweepClaims(new Date(now.getTime() - 24 * 60 * 60 * 1000)),
    ],
    clock,
    log,
    intervalMs: config.reconcile.intervalMs,
  });
  registerStateGauges(metrics, {
    outboxBacklog: () => paymentStore.outboxBacklog(),
    oldestPending: () => paymentStore.oldestPending(),
    now: () => clock.now(),
  });
  // Events a crash left behind go out now rather than at the first tick.
  void relay.kick();

  const app = createApp({
    config,
    log,
    metrics,
    clock,
    payments,
    idempotency,
    health: { mongo: db.isConnected, nats: bus.isConnected },
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.port, opts.host ?? '0.0.0.0', () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ port }, 'payments service listening');

  let stopping: Promise<void> | null = null;
  async function shutdown() {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await reconciler.stop();
    // Half of the shutdown budget for events of the requests just finished; the rest stay in the outbox.
    await relay.stop(config.shutdownTimeoutMs / 2);
    await bus.close();
    await db.close();
    log.info('payments service stopped');
  }

  return {
    app,
    port,
    url: `http://127.0.0.1:${port}`,
    log,
    metrics,
    db,
    bus,
    stores: { orders: orderStore, payments: paymentStore, idempotency },
    payments,
    relay,
    reconciler,
    /** Stops taking requests and messages, finishes those in flight, then closes NATS and MongoDB. */
    stop: () => (stopping ??= shutdown()),
  };
}

export type Service = Awaited<ReturnType<typeof startService>>;
