import { z } from 'zod/v4';
import { ConfigError, type Config } from '../config';

const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const mongoUri = optionalText.refine((v) => v === undefined || /^mongodb(\+srv)?:\/\//.test(v), {
  message: 'must be a mongodb:// or mongodb+srv:// URI',
});

// A tool gets only the addresses it needs, not the service's secrets: loadConfig
// would refuse it for the keys it lacks.
const base = z.object({
  MONGO_URI: mongoUri,
  MONGO_URL: mongoUri,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
const withNats = base.extend({
  BUS: z.enum(['stan', 'jetstream']).default('stan'),
  NATS_URL: z.url(),
  NATS_CLUSTER_ID: optionalText,
  NATS_CLIENT_ID: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _ only'),
  JETSTREAM_STREAM: z.string().min(1).default('ticketing'),
  JETSTREAM_MANAGE_STREAM: z.enum(['true', 'false']).default('true'),
});

export interface ToolConfig {
  mongoUri: string;
  logLevel: string;
  /** The bus to publish on; a tool subscribes to nothing, so it needs no consumer settings. */
  bus?: {
    bus: Config['bus'];
    nats: Pick<Config['nats'], 'url' | 'clusterId' | 'clientId'>;
    jetstream: Pick<Config['jetstream'], 'stream' | 'manageStream'>;
  };
}

/** The command-line tools' reader of the environment: every bad key is reported at once. */
export function loadToolConfig(env: Record<string, string | undefined>, needs: { nats?: boolean } = {}): ToolConfig {
  const parsed = (needs.nats ? withNats : base).safeParse(env);
  const lines = parsed.success ? [] : parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
  // Checked apart from the schema: a refinement would not run while another key is bad.
  if (!env.MONGO_URI?.trim() && !env.MONGO_URL?.trim()) lines.unshift('  MONGO_URI: is required (or MONGO_URL)');
  if (needs.nats && (env.BUS ?? 'stan') === 'stan' && !env.NATS_CLUSTER_ID?.trim()) {
    lines.push('  NATS_CLUSTER_ID: is required with BUS=stan');
  }
  if (!parsed.success || lines.length > 0) throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  const data = parsed.data as z.infer<typeof withNats>;
  return {
    mongoUri: (data.MONGO_URI ?? data.MONGO_URL) as string,
    logLevel: data.LOG_LEVEL,
    ...(needs.nats && {
      bus: {
        bus: data.BUS,
        nats: { url: data.NATS_URL, clusterId: data.NATS_CLUSTER_ID ?? '', clientId: data.NATS_CLIENT_ID },
        jetstream: { stream: data.JETSTREAM_STREAM, manageStream: data.JETSTREAM_MANAGE_STREAM === 'true' },
      },
    }),
  };
}
