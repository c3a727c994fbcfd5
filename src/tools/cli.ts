import { ConfigError } from '../config';
import { DumpError } from './dump-file';

/** A mistake in the command line: the usage is printed and the exit code is 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const isUsage = (err: unknown) =>
  err instanceof UsageError || String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');

/**
 * Runs a tool's main and turns its failure into an exit code a CronJob can
 * read: 0 done, 1 failed or refused (nothing half-written), 2 bad arguments.
 * The process then ends on its own, which proves no connection was left open.
 */
export function runTool(name: string, usage: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.exitCode = isUsage(err) ? 2 : 1;
    if (isUsage(err)) process.stderr.write(`${name}: ${(err as Error).message}\n${usage}\n`);
    else if (err instanceof ConfigError || err instanceof DumpError) process.stderr.write(`${name}: ${err.message}\n`);
    else process.stderr.write(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  });
}
