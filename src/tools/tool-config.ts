import { z } from 'zod/v4';
import { ConfigError, readBusSettings, type BusSettings } from '../config';

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
export interface ToolConfig {
  mongoUri: string;
  logLevel: string;
  /** The bus to publish on, read as the service reads it. */
  bus?: BusSettings;
}

/** The command-line tools' reader of the environment: every bad key is reported at once. */
export function loadToolConfig(env: Record<string, string | undefined>, needs: { nats?: boolean } = {}): ToolConfig {
  const parsed = base.safeParse(env);
  const lines = parsed.success ? [] : parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
  // Checked apart from the schema: a refinement would not run while another key is bad.
  if (!env.MONGO_URI?.trim() && !env.MONGO_URL?.trim()) lines.unshift('  MONGO_URI: is required (or MONGO_URL)');
  const bus = needs.nats ? readBusSettings(env) : undefined;
  lines.push(...(bus?.issues ?? []).map((l) => `  ${l}`));
  if (!parsed.success || lines.length > 0) throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  const data = parsed.data;
  return {
    mongoUri: (data.MONGO_URI ?? data.MONGO_URL) as string,
    logLevel: data.LOG_LEVEL,
    ...(bus?.settings && { bus: bus.settings }),
  };
}
