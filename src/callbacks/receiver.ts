import type { OutboxMessage } from '../db/outbox';
import type { Clock } from '../domain/ports';
import type { Metrics } from '../metrics';
import { DeliveryError, UndeliverableError, type Destination } from '../outbox/outbox';
import { sign } from './signature';

// An attempt is cut at the timeout; this much more covers recording how it went.
const LEASE_MARGIN_MS = 30_000;

export interface ReceiverOptions {
  key: Buffer;
  timeoutMs: number;
  retryScheduleMs: readonly number[];
  clock: Clock;
  metrics: Metrics;
}

function cause(err: unknown): string {
  const { cause: c, message } = err as { cause?: { code?: string; message?: string }; message?: string };
  return c?.code ?? c?.message ?? message ?? String(err);
}

/**
 * One callback URL as a destination of the outbox: each message is POSTed with
 * the Standard Webhooks headers. A 2xx is delivered; 410 means never again; any
 * other answer, no answer within the timeout, or no connection is a failed
 * attempt, tried again on the configured schedule.
 */
export function receiver(url: string, opts: ReceiverOptions): Destination {
  const { key, timeoutMs, retryScheduleMs, clock, metrics } = opts;
  const counted = (outcome: string, err?: Error) => {
    metrics.callbackAttempts.inc({ outcome });
    return err;
  };

  async function send(m: OutboxMessage, stopping: AbortSignal): Promise<void> {
    const body = JSON.stringify(m.payload);
    const timestamp = Math.floor(clock.now().getTime() / 1000);
    const timeout = AbortSignal.timeout(timeoutMs);
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': m.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': sign(key, m.id, timestamp, body),
      },
      body,
      // Not followed: a signed event goes only where the configuration says.
      redirect: 'manual',
      signal: AbortSignal.any([timeout, stopping]),
    }).catch((err: unknown) => {
      if (stopping.aborted) throw err;
      if (timeout.aborted) throw counted('timeout', new DeliveryError(`no answer within ${timeoutMs} ms`));
      throw counted('unreachable', new DeliveryError(`unreachable: ${cause(err)}`));
    });
    // The answer's body says nothing we use; dropping it frees the connection, whatever becomes of it.
    await res.body?.cancel().catch(() => undefined);
    if (res.ok) return void counted('delivered');
    if (res.status === 410) throw counted('gone', new UndeliverableError('receiver answered 410', 410));
    throw counted('failed', new DeliveryError(`receiver answered ${res.status}`, res.status));
  }

  return {
    url,
    // Whether a receiver is there is known only by trying.
    ready: () => true,
    send,
    delayMs: (attempts) => retryScheduleMs[attempts] ?? null,
    leaseMs: timeoutMs + LEASE_MARGIN_MS,
    storeFirst: true,
    onDead: () => metrics.callbackDead.inc(),
  };
}
