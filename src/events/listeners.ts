import type { ZodType } from 'zod';
import { InvalidInputError, OutOfOrderError } from '../domain/errors';
import type { Orders } from '../domain/orders';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { Bus, BusMessage } from './bus';
import { orderCancelledSchema, orderCreatedSchema, Subjects, type Subject } from './subjects';

/**
 * Parses a message against its contract schema and runs the handler. A payload
 * that can never be valid is logged and acked, so it cannot loop forever; an
 * early (out-of-order) event and any other failure are left for redelivery.
 */
function listen<T>(
  bus: Bus,
  subject: Subject,
  schema: ZodType<T>,
  handle: (data: T) => Promise<string>,
  log: Logger,
  metrics: Metrics,
) {
  bus.subscribe(subject, async (msg: BusMessage) => {
    const done = (outcome: string, ack: boolean) => {
      metrics.eventsConsumed.inc({ subject, outcome });
      return ack;
    };
    let json: unknown;
    try {
      json = JSON.parse(msg.data);
    } catch {
      log.error({ subject, sequence: msg.sequence }, 'dropping event that is not JSON');
      return done('invalid', true);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      log.error({ subject, sequence: msg.sequence, issues: parsed.error.issues }, 'dropping invalid event');
      return done('invalid', true);
    }
    try {
      const outcome = await handle(parsed.data);
      log.info({ subject, sequence: msg.sequence, outcome }, 'event handled');
      return done(outcome, true);
    } catch (err) {
      if (err instanceof InvalidInputError) {
        log.error({ subject, sequence: msg.sequence, err }, 'dropping event the domain refuses');
        return done('invalid', true);
      }
      if (err instanceof OutOfOrderError) {
        log.info({ subject, sequence: msg.sequence, reason: err.message }, 'event early; awaiting redelivery');
        return done('early', false);
      }
      throw err;
    }
  });
}

export function registerListeners(bus: Bus, orders: Orders, log: Logger, metrics: Metrics): void {
  listen(bus, Subjects.OrderCreated, orderCreatedSchema, (e) => orders.created(e), log, metrics);
  listen(bus, Subjects.OrderCancelled, orderCancelledSchema, (e) => orders.cancelled(e), log, metrics);
}
