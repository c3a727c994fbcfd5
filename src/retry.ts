import { setTimeout as sleep } from 'node:timers/promises';

/** Retries with capped exponential backoff until `timeoutMs` has passed, then throws the last error. */
export async function retry<T>(
  attempt: () => Promise<T>,
  opts: { timeoutMs: number; onRetry?: (err: unknown, waitMs: number) => void; maxWaitMs?: number },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let wait = 200;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      const left = deadline - Date.now();
      if (left <= 0) throw err;
      const pause = Math.min(wait, left, opts.maxWaitMs ?? 5000);
      opts.onRetry?.(err, pause);
      await sleep(pause);
      wait *= 2;
    }
  }
}
