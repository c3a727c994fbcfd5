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
  NATS_URL: z.url(),
  NATS_CLUSTER_ID: z.string().min(1),
  NATS_CLIENT_ID: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _ only'),
});

export interface ToolConfig {
  mongoUri: string;
  logLevel: string;
  nats?: Pick<Config['nats'], 'url' | 'clusterId' | 'clientId'>;
}

/** The command-line tools' reader of the environment: every bad key is reported at once. */
export function loadToolConfig(env: Record<string, string | undefined>, needs: { nats?: boolean } = {}): ToolConfig {
  const parsed = (needs.nats ? withNats : base).safeParse(env);
  const lines = parsed.success ? [] : parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
  // Checked apart from the schema: a refinement would not run while another key is bad.
  if (!env.MONGO_URI?.trim() && !env.MONGO_URL?.trim()) lines.unshift('  MONGO_URI: is required (or MONGO_URL)');
  if (!parsed.success || lines.length > 0) throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  const data = parsed.data as z.infer<typeof withNats>;
  return {
    mongoUri: (data.MONGO_URI ?? data.MONGO_URL) as string,
    logLevel: data.LOG_LEVEL,
    ...(needs.nats && { nats: { url: data.NATS_URL, clusterId: data.NATS_CLUSTER_ID, clientId: data.NATS_CLIENT_ID } }),
  };
}
