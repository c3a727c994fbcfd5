import { createHash } from 'node:crypto';
import type { Config } from '../config';
import type { OutboxMessage } from '../db/outbox';
import type { Clock } from '../domain/ports';
import type { Metrics } from '../metrics';
import type { Destination } from '../outbox/outbox';
import { receiver } from './receiver';
import { signingKey } from './signature';

/** The outbox destination of one receiver: stable for its URL, short enough for an id. */
export const destinationOf = (url: string) => `callback:${createHash('sha256').update(url).digest('hex').slice(0, 12)}`;

// Every payment event, those added later too; other subjects on the bus are not the order service's.
const isPaymentEvent = (m: OutboxMessage) => m.destination === 'bus' && m.subject.startsWith('payment:');

/**
 * Callbacks to order services (ORDER_CALLBACK_URL): each receiver is a
 * destination of the outbox, and each payment event bound for the bus becomes
 * one message more per receiver, whose payload is the body it is sent:
 * `{type, timestamp, data}`, as Standard Webhooks recommends, `data` being the
 * bus payload. The message keeps the event's id, so its entry in the outbox
 * (destination and id) is one per event and receiver, and `webhook-id` is the event id.
 */
export function createCallbacks(config: Config['callbacks'], deps: { clock: Clock; metrics: Metrics }) {
  const key = signingKey(config.secret);
  const destinations: Record<string, Destination> = Object.fromEntries(
    config.urls.map((url) => [
      destinationOf(url),
      receiver(url, { key, timeoutMs: config.timeoutMs, retryScheduleMs: config.retryScheduleMs, ...deps }),
    ]),
  );
  return {
    destinations,
    /** The bus messages and, for each payment event among them, its callbacks; `at` is when the event happened. */
    withCallbacks(messages: OutboxMessage[], at: Date): OutboxMessage[] {
      // On every payment's way: without receivers, nothing to add.
      if (config.urls.length === 0) return messages;
      const callbacks = messages.filter(isPaymentEvent).flatMap((m) =>
        Object.keys(destinations).map((destination) => ({
          ...m,
          destination,
          payload: { type: m.subject, timestamp: at.toISOString(), data: m.payload },
        })),
      );
      return [...messages, ...callbacks];
    },
  };
}
