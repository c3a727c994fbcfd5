import { z } from 'zod/v4';

const int = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  JWT_KEY: z.string().min(1, 'is required'),
  ADMIN_USER_IDS: z.string().default(''),
  MONGO_URI: optionalText,
  MONGO_URL: optionalText,
  NATS_URL: z.string().url(),
  NATS_CLUSTER_ID: z.string().min(1),
  NATS_CLIENT_ID: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _ only'),
  QUEUE_GROUP_NAME: z.string().min(1).default('payments-service'),
  NATS_ACK_WAIT_MS: int(5000),
  PAYMENT_PROVIDER: z.enum(['stripe', 'simulator']).default('stripe'),
  STRIPE_KEY: optionalText,
  STRIPE_API_BASE: optionalText.pipe(z.string().url().optional()),
  STRIPE_WEBHOOK_SECRET: optionalText,
  PROVIDER_TIMEOUT_MS: int(10000),
  PAYMENTS_CURRENCY: z
    .string()
    .regex(/^[A-Za-z]{3}$/, 'an ISO 4217 code')
    .default('usd')
    .transform((v) => v.toLowerCase()),
  PAYMENTS_RECONCILE_INTERVAL_MS: int(10000),
  PAYMENTS_RECONCILE_AFTER_MS: int(30000),
  OUTBOX_INTERVAL_MS: int(1000),
  EVENT_MAX_DELIVERIES: int(20),
  EVENT_MAX_AGE_MS: int(60 * 60 * 1000),
  IDEMPOTENCY_KEY_TTL_MS: int(24 * 60 * 60 * 1000),
  BOOT_TIMEOUT_MS: int(30000),
  SHUTDOWN_TIMEOUT_MS: int(10000),
});

/** Every setting the service reads; .env.example and the README list the same. */
export const CONFIG_KEYS = Object.keys(schema.shape);

type Env = Record<string, string | undefined>;

// Rules across keys, checked on the raw environment so that they are reported
// together with the per-key errors rather than only once those are fixed.
function crossKeyIssues(env: Env): string[] {
  const issues: string[] = [];
  const set = (k: string) => Boolean(env[k]?.trim());
  if (!set('MONGO_URI') && !set('MONGO_URL')) issues.push('MONGO_URI: is required (or MONGO_URL)');
  if ((env.PAYMENT_PROVIDER ?? 'stripe') === 'stripe' && !set('STRIPE_KEY')) {
    issues.push('STRIPE_KEY: is required with PAYMENT_PROVIDER=stripe');
  }
  // A reconciler that re-charged while the first attempt could still be in flight would race it.
  const after = Number(env.PAYMENTS_RECONCILE_AFTER_MS ?? 30000);
  const timeout = Number(env.PROVIDER_TIMEOUT_MS ?? 10000);
  if (after <= timeout * 2) issues.push('PAYMENTS_RECONCILE_AFTER_MS: must be more than twice PROVIDER_TIMEOUT_MS');
  return issues;
}

export type Config = ReturnType<typeof toConfig>;

export class ConfigError extends Error {
  override name = 'ConfigError';
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
    nats: {
      url: env.NATS_URL,
      clusterId: env.NATS_CLUSTER_ID,
      clientId: env.NATS_CLIENT_ID,
      queueGroup: env.QUEUE_GROUP_NAME,
      ackWaitMs: env.NATS_ACK_WAIT_MS,
    },
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
  };
}

/** The only reader of the environment: every bad key is reported at once. */
export function loadConfig(env: Env): Config {
  const parsed = schema.safeParse(env);
  const issues = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)),
    ...crossKeyIssues(env),
  ];
  if (issues.length > 0 || !parsed.success) {
    throw new ConfigError(`Invalid configuration:\n${issues.map((l) => `  ${l}`).join('\n')}`);
  }
  return toConfig(parsed.data);
}
