import { z } from 'zod/v4';
import { Subjects } from './events/subjects';

const int = (fallback: number) => z.coerce.number().int().positive().default(fallback);
// A duration a timer waits: Node runs one of more than 2^31-1 ms at once (and an interval without pause).
const timerMs = (fallback: number) => z.coerce.number().int().positive().max(2_147_483_647).default(fallback);
const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === '' ? undefined : v));
const list = (v: string) =>
  v
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

// fetch refuses URLs that carry credentials; receivers authenticate us by the signature instead.
const isReceiverUrl = (v: string) => {
  if (!URL.canParse(v)) return false;
  const url = new URL(v);
  return ['http:', 'https:'].includes(url.protocol) && url.username === '' && url.password === '';
};
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+)(ms|s|m|h|d)?$/;
const toMs = (v: string) => {
  const [, n, unit] = DURATION.exec(v) ?? [];
  return Number(n) * (UNIT_MS[unit ?? 'ms'] ?? Number.NaN);
};
const SUBJECTS = new Set<string>(Object.values(Subjects));
/** The topic of a subject: as KAFKA_TOPICS maps it, else the subject with '.' for ':' (illegal in topic names). */
export const topicFor = (cfg: { topics: Record<string, string> }, subject: string) =>
  cfg.topics[subject] ?? subject.replace(/:/g, '.');
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const TOPIC_PAIR = /^[^=\s]+\s*=\s*[A-Za-z0-9._-]{1,249}$/;
// Standard Webhooks secrets are whsec_ and the key's bytes in base64.
const isSecret = (v: string) => !v.startsWith('whsec_') || /^[A-Za-z0-9+/]+={0,2}$/.test(v.slice('whsec_'.length));

/**
 * Not the course payments service's `payments-service`: beside it, one group would split the
 * order events between the two, and taking over its group skips every order it has already seen.
 */
export const DEFAULT_QUEUE_GROUP = 'ticketing-payments';

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  JWT_KEY: z.string().min(1, 'is required'),
  ADMIN_USER_IDS: z.string().default(''),
  MONGO_URI: optionalText,
  MONGO_URL: optionalText,
  // 1 on a store that takes one writer at a time (FerretDB on SQLite); 0: no limit (MongoDB).
  MONGO_WRITES_IN_FLIGHT: z.coerce.number().int().min(0).default(0),
  BUS: z.enum(['stan', 'jetstream', 'kafka']).default('stan'),
  // Required by the transport that uses them: see crossKeyIssues.
  NATS_URL: optionalText.pipe(z.string().url().optional()),
  NATS_CLUSTER_ID: optionalText,
  NATS_CLIENT_ID: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _ only'),
  QUEUE_GROUP_NAME: z.string().min(1).default(DEFAULT_QUEUE_GROUP),
  NATS_ACK_WAIT_MS: timerMs(5000),
  // Stream and consumer names may not contain dots.
  JETSTREAM_STREAM: z
    .string()
    .regex(/^[A-Za-z0-9_:-]+$/, 'letters, digits, _, - and : only')
    .default('ticketing'),
  JETSTREAM_MANAGE_STREAM: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  // Unset: one more than EVENT_MAX_DELIVERIES, a cap for a message whose handler never answers.
  JETSTREAM_MAX_DELIVER: z.coerce.number().int().positive().optional(),
  JETSTREAM_BACKOFF: z
    .string()
    .default('')
    .refine((v) => list(v).every((d) => DURATION.test(d)), 'comma-separated durations such as 1s,10s,1m')
    .transform((v) => list(v).map(toMs)),
  KAFKA_BROKERS: z
    .string()
    .default('')
    .refine((v) => list(v).every((b) => /^[^\s:/]+:\d+$/.test(b)), 'comma-separated host:port')
    .transform(list),
  // Kafka topic names cannot hold ':'; unlisted subjects get theirs with '.' for ':'.
  KAFKA_TOPICS: z
    .string()
    .default('')
    .refine((v) => list(v).every((pair) => TOPIC_PAIR.test(pair)), 'comma-separated subject=topic pairs')
    .transform((v) => Object.fromEntries(list(v).map((pair) => pair.split('=').map((p) => p.trim()))))
    .refine((t) => Object.keys(t).every((s) => SUBJECTS.has(s)), `subjects are ${[...SUBJECTS].join(', ')}`)
    // A consumer knows a message's subject by its topic.
    .refine(
      (t) => new Set([...SUBJECTS].map((s) => topicFor({ topics: t }, s))).size === SUBJECTS.size,
      'a topic per subject',
    ),
  KAFKA_RETRY_TOPIC: z.string().regex(TOPIC, 'letters, digits, ., _ and - only').optional(),
  KAFKA_MANAGE_TOPICS: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  KAFKA_PARTITIONS: int(3),
  PAYMENT_PROVIDER: z.enum(['stripe', 'simulator']).default('stripe'),
  STRIPE_KEY: optionalText,
  STRIPE_API_BASE: optionalText.pipe(z.string().url().optional()),
  STRIPE_WEBHOOK_SECRET: optionalText,
  PROVIDER_TIMEOUT_MS: timerMs(10000),
  PAYMENTS_CURRENCY: z
    .string()
    .regex(/^[A-Za-z]{3}$/, 'an ISO 4217 code')
    .default('usd')
    .transform((v) => v.toLowerCase()),
  PAYMENTS_RECONCILE_INTERVAL_MS: timerMs(10000),
  PAYMENTS_RECONCILE_AFTER_MS: int(30000),
  OUTBOX_INTERVAL_MS: timerMs(1000),
  EVENT_MAX_DELIVERIES: int(20),
  EVENT_MAX_AGE_MS: int(60 * 60 * 1000),
  IDEMPOTENCY_KEY_TTL_MS: int(24 * 60 * 60 * 1000),
  BOOT_TIMEOUT_MS: timerMs(30000),
  SHUTDOWN_TIMEOUT_MS: timerMs(10000),
  ORDER_CALLBACK_URL: z
    .string()
    .default('')
    .refine((v) => list(v).every(isReceiverUrl), 'comma-separated http(s) URLs without credentials')
    .transform((v) => [...new Set(list(v))]),
  CALLBACK_SECRET: optionalText.refine((v) => v === undefined || isSecret(v), 'whsec_ must be followed by base64'),
  CALLBACK_RETRY_SCHEDULE: z
    .string()
    .default('0,10s,1m,5m,30m,2h,6h,12h,24h')
    .refine(
      (v) => list(v).length > 0 && list(v).every((d) => DURATION.test(d)),
      'comma-separated durations such as 0,10s,1m,2h (a bare number is milliseconds)',
    )
    .transform((v) => list(v).map(toMs)),
  CALLBACK_TIMEOUT_MS: timerMs(10000),
});

/** Every setting the service reads; .env.example and the README list the same. */
export const CONFIG_KEYS = Object.keys(schema.shape);

type Env = Record<string, string | undefined>;

// Rules across keys, checked on the raw environment so that they are reported
// together with the per-key errors rather than only once those are fixed.
function busIssues(env: Env): string[] {
  const issues: string[] = [];
  const set = (k: string) => Boolean(env[k]?.trim());
  const bus = env.BUS ?? 'stan';
  if (bus !== 'kafka' && !set('NATS_URL')) issues.push(`NATS_URL: is required with BUS=${bus}`);
  if (bus === 'kafka' && !set('KAFKA_BROKERS')) issues.push('KAFKA_BROKERS: is required with BUS=kafka');
  if (bus === 'stan' && !set('NATS_CLUSTER_ID')) issues.push('NATS_CLUSTER_ID: is required with BUS=stan');
  // NATS Streaming takes the ack wait in whole seconds (its client fails every subscribe otherwise).
  if (bus === 'stan' && set('NATS_ACK_WAIT_MS') && Number(env.NATS_ACK_WAIT_MS) % 1000 !== 0) {
    issues.push('NATS_ACK_WAIT_MS: must be whole seconds (a multiple of 1000) with BUS=stan');
  }
  // The server stops redelivering at its max_deliver without telling anyone: the listeners must park first.
  const maxDeliveries = Number(env.EVENT_MAX_DELIVERIES ?? 20);
  if (bus === 'jetstream' && set('JETSTREAM_MAX_DELIVER') && Number(env.JETSTREAM_MAX_DELIVER) <= maxDeliveries) {
    issues.push('JETSTREAM_MAX_DELIVER: must be more than EVENT_MAX_DELIVERIES');
  }
  if ((env.PAYMENT_PROVIDER ?? 'stripe') === 'stripe' && !set('STRIPE_KEY')) {
    issues.push('STRIPE_KEY: is required with PAYMENT_PROVIDER=stripe');
  }
  return issues;
}

function crossKeyIssues(env: Env): string[] {
  const issues: string[] = [];
  const set = (k: string) => Boolean(env[k]?.trim());
  if (!set('MONGO_URI') && !set('MONGO_URL')) issues.push('MONGO_URI: is required (or MONGO_URL)');
  issues.push(...busIssues(env));
  // A reconciler that re-charged while the first attempt could still be in flight would race it.
  const after = Number(env.PAYMENTS_RECONCILE_AFTER_MS ?? 30000);
  const timeout = Number(env.PROVIDER_TIMEOUT_MS ?? 10000);
  if (after <= timeout * 2) issues.push('PAYMENTS_RECONCILE_AFTER_MS: must be more than twice PROVIDER_TIMEOUT_MS');
  if (set('ORDER_CALLBACK_URL') && !set('CALLBACK_SECRET')) {
    issues.push('CALLBACK_SECRET: is required with ORDER_CALLBACK_URL');
  }
  return issues;
}

export type Config = ReturnType<typeof toConfig>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

// What a transport needs, also for the tools that publish (src/tools/dead-letters.ts).
const BUS_KEYS = [
  'BUS',
  'NATS_URL',
  'NATS_CLUSTER_ID',
  'NATS_CLIENT_ID',
  'QUEUE_GROUP_NAME',
  'NATS_ACK_WAIT_MS',
  'JETSTREAM_STREAM',
  'JETSTREAM_MANAGE_STREAM',
  'JETSTREAM_MAX_DELIVER',
  'JETSTREAM_BACKOFF',
  'KAFKA_BROKERS',
  'KAFKA_TOPICS',
  'KAFKA_RETRY_TOPIC',
  'KAFKA_MANAGE_TOPICS',
  'KAFKA_PARTITIONS',
  'EVENT_MAX_DELIVERIES',
] as const;
const busSchema = schema.pick(
  Object.fromEntries(BUS_KEYS.map((k) => [k, true])) as { [K in (typeof BUS_KEYS)[number]]: true },
);

function toBus(env: z.infer<typeof busSchema>) {
  return {
    bus: env.BUS,
    nats: {
      url: env.NATS_URL as string,
      clusterId: env.NATS_CLUSTER_ID ?? '',
      clientId: env.NATS_CLIENT_ID,
      queueGroup: env.QUEUE_GROUP_NAME,
      ackWaitMs: env.NATS_ACK_WAIT_MS,
    },
    jetstream: {
      stream: env.JETSTREAM_STREAM,
      manageStream: env.JETSTREAM_MANAGE_STREAM,
      // No bound by default: the service parks a message by its own limits, and one whose dead letter
      // cannot be written (the database away) must come again rather than be dropped by the server.
      maxDeliver: env.JETSTREAM_MAX_DELIVER ?? -1,
      backoffMs: env.JETSTREAM_BACKOFF,
    },
    kafka: {
      brokers: env.KAFKA_BROKERS,
      topics: env.KAFKA_TOPICS as Record<string, string>,
      retryTopic: env.KAFKA_RETRY_TOPIC ?? `${env.QUEUE_GROUP_NAME.replace(/[^A-Za-z0-9._-]/g, '_')}.retry`,
      manageTopics: env.KAFKA_MANAGE_TOPICS,
      partitions: env.KAFKA_PARTITIONS,
    },
  };
}

export type BusSettings = ReturnType<typeof toBus>;

// The consumer takes every message of the retry topic for a retry: a subject's messages there would be too.
function retryTopicIssues({ bus, kafka }: BusSettings): string[] {
  const subject = [...SUBJECTS].find((s) => topicFor(kafka, s) === kafka.retryTopic);
  return bus === 'kafka' && subject ? [`KAFKA_RETRY_TOPIC: ${kafka.retryTopic} is the topic of ${subject}`] : [];
}

/** The bus settings alone, with what is wrong with them (for a tool, which has no other service setting). */
export function readBusSettings(env: Env): { settings?: BusSettings; issues: string[] } {
  const parsed = busSchema.safeParse(env);
  const settings = parsed.success ? toBus(parsed.data) : undefined;
  const issues = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)),
    ...busIssues(env),
    ...(settings ? retryTopicIssues(settings) : []),
  ];
  return settings && issues.length === 0 ? { settings, issues } : { issues };
}

function toConfig(env: z.infer<typeof schema>) {
  return {
    env: env.NODE_ENV,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    jwtKey: env.JWT_KEY,
    adminUserIds: new Set(
      env.ADMIN_USER_IDS.split(',')
        .map((id) => id.trim())
        .filter(Boolean),
    ),
    mongoUri: (env.MONGO_URI ?? env.MONGO_URL) as string,
    mongoWritesInFlight: env.MONGO_WRITES_IN_FLIGHT,
    ...toBus(env),
    provider: {
      kind: env.PAYMENT_PROVIDER,
      stripeKey: env.STRIPE_KEY,
      stripeApiBase: env.STRIPE_API_BASE,
      webhookSecret: env.STRIPE_WEBHOOK_SECRET,
      timeoutMs: env.PROVIDER_TIMEOUT_MS,
    },
    defaultCurrency: env.PAYMENTS_CURRENCY,
    reconcile: { intervalMs: env.PAYMENTS_RECONCILE_INTERVAL_MS, afterMs: env.PAYMENTS_RECONCILE_AFTER_MS },
    outboxIntervalMs: env.OUTBOX_INTERVAL_MS,
    events: { maxDeliveries: env.EVENT_MAX_DELIVERIES, maxAgeMs: env.EVENT_MAX_AGE_MS },
    idempotencyTtlMs: env.IDEMPOTENCY_KEY_TTL_MS,
    bootTimeoutMs: env.BOOT_TIMEOUT_MS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    callbacks: {
      urls: env.ORDER_CALLBACK_URL,
      secret: env.CALLBACK_SECRET ?? '',
      retryScheduleMs: env.CALLBACK_RETRY_SCHEDULE,
      timeoutMs: env.CALLBACK_TIMEOUT_MS,
    },
  };
}

/** The only reader of the environment: every bad key is reported at once. */
export function loadConfig(env: Env): Config {
  const parsed = schema.safeParse(env);
  const issues = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)),
    ...crossKeyIssues(env),
    ...(parsed.success ? retryTopicIssues(toBus(parsed.data)) : []),
  ];
  if (issues.length > 0 || !parsed.success) {
    throw new ConfigError(`Invalid configuration:\n${issues.map((l) => `  ${l}`).join('\n')}`);
  }
  return toConfig(parsed.data);
}
