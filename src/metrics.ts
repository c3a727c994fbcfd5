import client from 'prom-client';
import type { LaneStats } from './db/writes';

/** One registry per service instance, so that tests can run several side by side. */
export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const payments = new client.Counter({
    name: 'payments_total',
    help: 'Payment attempts by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const providerLatency = new client.Histogram({
    name: 'payment_provider_call_seconds',
    help: 'Latency of payment provider calls',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
    registers: [registry],
  });
  const refunds = new client.Counter({
    name: 'refunds_total',
    help: 'Refunds asked for through the API, by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const eventsConsumed = new client.Counter({
    name: 'events_consumed_total',
    help: 'Events consumed by subject and outcome',
    labelNames: ['subject', 'outcome'] as const,
    registers: [registry],
  });
  const eventsPublished = new client.Counter({
    name: 'events_published_total',
    help: 'Events published by subject',
    labelNames: ['subject'] as const,
    registers: [registry],
  });
  const providerEvents = new client.Counter({
    name: 'provider_events_total',
    help: "The provider's webhooks by type and outcome",
    labelNames: ['type', 'outcome'] as const,
    registers: [registry],
  });
  const callbackAttempts = new client.Counter({
    name: 'callback_attempts_total',
    help: 'Attempts to deliver a callback, by outcome: delivered, failed (another answer), gone (410), timeout, unreachable',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const callbackDead = new client.Counter({
    name: 'callback_dead_total',
    help: 'Callbacks given up on (410, or every attempt of the schedule failed), kept in dead_deliveries',
    registers: [registry],
  });
  const httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return {
    registry,
    payments,
    refunds,
    providerLatency,
    eventsConsumed,
    eventsPublished,
    providerEvents,
    callbackAttempts,
    callbackDead,
    httpDuration,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The write lane's totals as counters: name, help, and the total each reads. */
export const LANE_METRICS: [string, string, keyof LaneStats][] = [
  [
    'db_write_lane_writes_total',
    'Write commands sent through the write lane (0 with MONGO_WRITES_IN_FLIGHT=0)',
    'writes',
  ],
  ['db_write_lane_wait_seconds_total', 'Time write commands waited for a place in the write lane', 'waitSeconds'],
  [
    'db_write_lane_busy_seconds_total',
    'Time write commands held a place in the write lane, summed over its places: a rate near MONGO_WRITES_IN_FLIGHT means it is full',
    'busySeconds',
  ],
];

/** Read when Prometheus scrapes: the outbox's size, what the reconciler saw last, and the write lane's totals. */
export function registerStateGauges(
  metrics: Metrics,
  source: {
    outboxBacklog(): Promise<number>;
    oldestPending(): Date | null;
    now(): Date;
    writeLane: Readonly<LaneStats>;
  },
): void {
  for (const [name, help, key] of LANE_METRICS) {
    new client.Counter({
      name,
      help,
      registers: [metrics.registry],
      collect() {
        this.reset();
        this.inc(source.writeLane[key]);
      },
    });
  }
  new client.Gauge({
    name: 'outbox_backlog_events',
    help: 'Messages recorded but not yet delivered',
    registers: [metrics.registry],
    async collect() {
      this.set(await source.outboxBacklog());
    },
  });
  new client.Gauge({
    name: 'oldest_pending_payment_age_seconds',
    help: "Age of the oldest payment still pending at the reconciler's last pass (0 when none)",
    registers: [metrics.registry],
    collect() {
      const oldest = source.oldestPending();
      this.set(oldest ? (source.now().getTime() - oldest.getTime()) / 1000 : 0);
    },
  });
}
