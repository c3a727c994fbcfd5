import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import { createCallbacks } from './callbacks/callbacks';
import type { Config } from './config';
import { connectDb } from './db/connect';
import { createDeadDeliveryStore } from './db/dead-deliveries';
import { createDeadLetterStore } from './db/dead-letters';
import { createIdempotencyStore } from './db/idempotency';
import { createOrderStore } from './db/orders';
import { createOutboxStore } from './db/outbox';
import { createPaymentQueries } from './db/payment-queries';
import { createPaymentStore } from './db/payments';
import { createProviderEventStore } from './db/provider-events';
import { upgradeLegacyData } from './db/upgrade';
import { laneOf } from './db/writes';
import { createOrderEvents } from './domain/orders';
import { createPay } from './domain/pay';
import { createProviderReports } from './domain/provider-reports';
import { createRefund } from './domain/refund';
import { createRequestPayment } from './domain/request';
import { createVoid } from './domain/void';
import type { Clock, PaymentProvider } from './domain/ports';
import { createReconcile } from './domain/reconcile';
import { createSettle } from './domain/settle';
import { registerListeners } from './events/listeners';
import { messagesFor } from './events/publications';
import { connectBus } from './events/connect-bus';
import type { Subject } from './events/subjects';
import { createLogger, type Logger } from './log';
import { createMetrics, registerStateGauges } from './metrics';
import { backoff, createOutbox } from './outbox/outbox';
import { createProvider } from './providers';
import { instrumentProvider } from './providers/instrument';
import { createStripeWebhookReader } from './providers/stripe-webhooks';
import { startReconciler } from './reconciler';

export interface ServiceOptions {
  log?: Logger;
  clock?: Clock;
  /** Replaces the configured provider (tests that need a provider no server imitates). */
  provider?: PaymentProvider;
  host?: string;
}

// Expired idempotency keys are few and harmless: sweeping them (a scan on FerretDB) can wait.
const SWEEP_EVERY_MS = 10 * 60 * 1000;
// What the reconciler's list lacks is rare (a failed write): checking reads every payment on FerretDB.
const DUE_CHECK_EVERY_MS = 60 * 60 * 1000;

/**
 * Connects every dependency (failing after a bounded time), wires the doors
 * (HTTP, events) to the domain, starts the background jobs and listens.
 */
export async function startService(config: Config, opts: ServiceOptions = {}) {
  const log = opts.log ?? createLogger({ level: config.logLevel });
  const clock = opts.clock ?? { now: () => new Date() };
  const metrics = createMetrics();

  const db = await connectDb(config.mongoUri, log, config.bootTimeoutMs, config.mongoWritesInFlight);
  const bus = await connectBus(config, log, config.bootTimeoutMs).catch(async (err: unknown) => {
    await db.close();
    throw err;
  });

  const outboxStore = createOutboxStore(db.connection);
  const deadDeliveries = createDeadDeliveryStore(db.connection);
  const callbacks = createCallbacks(config.callbacks, { clock, metrics });
  const outbox = createOutbox({
    store: outboxStore,
    dead: deadDeliveries,
    destinations: {
      bus: {
        url: config.nats.url,
        ready: bus.isConnected,
        async send(m) {
          await bus.publish({ subject: m.subject as Subject, id: m.id, key: m.key, data: m.payload });
          metrics.eventsPublished.inc({ subject: m.subject });
        },
        delayMs: backoff,
        leaseMs: 30_000,
        storeFirst: false,
      },
      ...callbacks.destinations,
    },
    clock,
    log,
    intervalMs: config.outboxIntervalMs,
  });
  const stores = {
    orders: createOrderStore(db.connection),
    payments: createPaymentStore(db.connection, {
      consequences: {
        dispatch: (p, events) => outbox.dispatch(callbacks.withCallbacks(messagesFor(p, events), p.updatedAt)),
      },
      clock,
      log,
    }),
    outbox: outboxStore,
    deadLetters: createDeadLetterStore(db.connection),
    providerEvents: createProviderEventStore(db.connection),
    deadDeliveries,
    idempotency: createIdempotencyStore(db.connection, {
      ttlMs: config.idempotencyTtlMs,
      lockMs: config.reconcile.afterMs,
    }),
  };
  await Promise.all(Object.values(stores).map((s) => s.init()));
  await upgradeLegacyData(db.native, clock, log);
  await stores.payments.due.buildIfMissing();
  await stores.payments.recordStarts();

  const provider = instrumentProvider(opts.provider ?? createProvider(config.provider), metrics);
  const settleAfterMs = config.reconcile.afterMs;
  const settle = createSettle({ payments: stores.payments, provider, clock });
  const pay = createPay({ orders: stores.orders, payments: stores.payments, settle, clock, settleAfterMs });
  const refund = createRefund({ settle, clock, settleAfterMs });
  const voidPayment = createVoid({ payments: stores.payments, settle, clock, settleAfterMs });
  const orderEvents = createOrderEvents({
    orders: stores.orders,
    payments: stores.payments,
    refund,
    clock,
    settleAfterMs,
  });
  registerListeners(
    {
      bus,
      orders: orderEvents,
      requestPayment: createRequestPayment({ payments: stores.payments, settle, clock, settleAfterMs }),
      deadLetters: stores.deadLetters,
      limits: config.events,
      clock,
      log,
      metrics,
    },
    config.defaultCurrency,
  );
  const reconciler = startReconciler({
    reconcile: createReconcile({
      payments: stores.payments,
      settle,
      clock,
      minRetryMs: config.reconcile.intervalMs,
      refundIfCancelled: orderEvents.refundIfCancelled,
    }),
    sweepers: [
      { sweep: (now) => stores.idempotency.sweep(now), everyMs: SWEEP_EVERY_MS },
      { sweep: (now) => stores.providerEvents.sweep(now), everyMs: SWEEP_EVERY_MS },
      { sweep: () => stores.payments.due.check(), everyMs: DUE_CHECK_EVERY_MS },
    ],
    clock,
    log,
    intervalMs: config.reconcile.intervalMs,
  });
  registerStateGauges(metrics, {
    outboxBacklog: () => outbox.backlog(),
    oldestPending: () => reconciler.oldestPending(),
    now: () => clock.now(),
    writeLane: laneOf(db.connection).stats,
  });
  // What a stopped process left in the outbox goes out now rather than at the first tick.
  void outbox.flush();

  const app = createApp({
    config,
    log,
    metrics,
    clock,
    pay,
    refund,
    void: voidPayment,
    payments: stores.payments,
    queries: createPaymentQueries(db.connection, (id) => stores.payments.load(id)),
    idempotency: stores.idempotency,
    deadDeliveries,
    deadLetters: stores.deadLetters,
    bus,
    outbox,
    health: { mongo: db.isConnected, nats: bus.isConnected },
    webhooks: {
      read: config.provider.webhookSecret ? createStripeWebhookReader(config.provider.webhookSecret) : null,
      reports: createProviderReports({ payments: stores.payments, provider, settle, clock, settleAfterMs }),
      events: stores.providerEvents,
    },
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
    await stores.payments.idle();
    // Half of the shutdown budget for events of the requests just finished; the rest stay in the outbox.
    await outbox.stop(config.shutdownTimeoutMs / 2);
    await bus.close();
    // What the last messages handled recorded is finished too: stored, and its events kept in the
    // outbox (stopped, it stores them) for the other replicas to send.
    await stores.payments.idle();
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
    stores,
    pay,
    outbox,
    reconciler,
    /** Stops taking requests and messages, finishes those in flight, then closes NATS and MongoDB. */
    stop: () => (stopping ??= shutdown()),
  };
}

export type Service = Awaited<ReturnType<typeof startService>>;
