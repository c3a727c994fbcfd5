import { z } from 'zod';
import { ConfigError } from '../config';

const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const mongoUri = optionalText.refine((v) => v === undefined || /^mongodb(\+srv)?:\/\//.test(v), {
  message: 'must be a mongodb:// or mongodb+srv:// URI',
});

// The backup job gets only the database's address, not the service's secrets:
// loadConfig would refuse it for the keys it lacks.
const schema = z.object({
  MONGO_URI: mongoUri,
  MONGO_URL: mongoUri,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface BackupConfig {
  mongoUri: string;
  logLevel: string;
}

/** The backup and restore tools' reader of the environment: every bad key is reported at once. */
export function loadBackupConfig(env: Record<string, string | undefined>): BackupConfig {
  const parsed = schema.safeParse(env);
  const lines = parsed.success ? [] : parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
  // Checked apart from the schema: a refinement would not run while another key is bad.
  if (!env.MONGO_URI?.trim() && !env.MONGO_URL?.trim()) lines.unshift('  MONGO_URI: is required (or MONGO_URL)');
  if (!parsed.success || lines.length > 0) throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  return { mongoUri: (parsed.data.MONGO_URI ?? parsed.data.MONGO_URL) as string, logLevel: parsed.data.LOG_LEVEL };
}
