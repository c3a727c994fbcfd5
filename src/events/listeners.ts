import type { ZodType } from 'zod/v4';
import type { DeadLetterStore } from '../db/dead-letters';
import { InvalidInputError, OutOfOrderError } from '../domain/errors';
import { toMinorUnits } from '../domain/money';
import type { OrderEvents } from '../domain/orders';
import type { PaymentRequest, RequestPayment } from '../domain/request';
import type { Clock } from '../domain/ports';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { Bus, InboundMessage, Verdict } from './bus';
import {
  billingPaymentRequestedSchema,
  orderCancelledSchema,
  orderCreatedSchema,
  paymentCreatedConsumedSchema,
  paymentRequestedSchema,
  Subjects,
  type BillingPaymentRequestedEvent,
  type PaymentRequestedEvent,
  type Subject,
} from './subjects';

// The events door's table, beside http/errors.ts: what a handler's error means for its message.
// Anything else (the database away, a bug) is retried too, within the same bounds.
const VERDICT_BY_CATEGORY: [abstract new (...args: never[]) => Error, Verdict['kind']][] = [
  [InvalidInputError, 'park'], // the message can never be processed as it is
  [OutOfOrderError, 'retry'], // what it follows has not arrived yet
];

// A message retried waits longer each time, up to a minute.
const retryAfterMs = (deliveries: number) => Math.min(1000 * 2 ** (deliveries - 1), 60_000);

export interface DeliveryLimits {
  /** Deliveries after which a message still retried is parked. */
  maxDeliveries: number;
  /** Age after which a message still retried is parked. */
  maxAgeMs: number;
}

export interface ListenerDeps {
  bus: Bus;
  orders: OrderEvents;
  requestPayment: RequestPayment;
  deadLetters: DeadLetterStore;
  limits: DeliveryLimits;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
}

function parse<T>(schema: ZodType<T>, data: string): T {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    throw new InvalidInputError('not JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new InvalidInputError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  return parsed.data;
}

/**
 * Runs every message of a subject through parse, the domain, and the verdict
 * table. A message is never redelivered for ever: past the delivery limits, and
 * at once when it can never be processed, it is parked in the dead letters and
 * acked.
 */
function listen<T>(
  deps: ListenerDeps,
  subject: Subject,
  schema: ZodType<T>,
  handle: (data: T) => Promise<string>,
  /** Keeps what a message retried past its limits says, before it is parked. */
  onParked?: (data: T) => Promise<void>,
) {
  const { log, metrics } = deps;
  const count = (outcome: string) => metrics.eventsConsumed.inc({ subject, outcome });

  async function park(msg: InboundMessage, reason: string): Promise<Verdict> {
    const { ref, data, deliveries, publishedAt } = msg;
    await deps.deadLetters.park({
      // Its place on the bus and its publish time: parked twice (redelivered), it is one letter; a
      // bus that numbers a channel from 1 again (a memory store restarted) gives another.
      id: `${ref}@${publishedAt.getTime()}`,
      subject,
      payload: data,
      reason,
      deliveries,
      publishedAt,
      parkedAt: deps.clock.now(),
    });
    return { kind: 'park' };
  }

  deps.bus.subscribe(subject, async (msg) => {
    const where = { subject, ref: msg.ref, deliveries: msg.deliveries };
    let reason: string;
    let outcome: string;
    let data: T | undefined;
    try {
      data = parse(schema, msg.data);
      const handled = await handle(data);
      if (handled === 'refunded_on_cancel') {
        log.warn({ ...where, outcome: handled }, 'order cancelled after its payment went through: refunded in full');
      } else if (handled === 'refund_refused') {
        log.error(
          { ...where, outcome: handled },
          'order cancelled after its payment went through: the provider refused its refund; an admin must refund it',
        );
      } else log.info({ ...where, outcome: handled }, 'event handled');
      count(handled);
      return { kind: 'ack' };
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
      if (VERDICT_BY_CATEGORY.find(([category]) => err instanceof category)?.[1] === 'park') {
        log.warn({ ...where, reason }, 'parking an event that can never be processed');
        count('invalid');
        return park(msg, reason);
      }
      outcome = err instanceof OutOfOrderError ? 'early' : 'error';
      if (outcome === 'error') log.error({ ...where, err }, 'event handler failed; will retry');
    }
    const age = deps.clock.now().getTime() - msg.publishedAt.getTime();
    if (msg.deliveries >= deps.limits.maxDeliveries || age >= deps.limits.maxAgeMs) {
      log.warn({ ...where, reason, ageMs: age }, 'parking an event retried past its limits');
      // A failure here leaves the message to come again, like the handler's.
      if (onParked && data !== undefined) await onParked(data);
      count('parked');
      return park(msg, `${reason} (after ${msg.deliveries} deliveries over ${Math.round(age / 1000)} s)`);
    }
    log.info({ ...where, reason }, 'event not handled yet; it will come again');
    count(outcome);
    return { kind: 'retry', afterMs: retryAfterMs(msg.deliveries) };
  });
}

/** payment:requested in the domain's words. */
function fromRequested(e: PaymentRequestedEvent): PaymentRequest {
  const { amount, currency } =
    e.amount !== undefined
      ? { amount: e.amount, currency: e.currency.toLowerCase() }
      : toMinorUnits(e.price ?? 0, e.currency);
  return {
    id: e.requestId,
    userId: e.userId,
    email: e.email ?? null,
    customerId: e.customerId ?? null,
    paymentMethod: e.paymentMethod,
    amount,
    currency,
    reference: e.reference ? { type: e.reference.type, id: e.reference.id } : null,
    description: e.description ?? null,
  };
}

/** The billing service's first payment of a subscription: a request whose id is the subscription's. */
function fromBilling(e: BillingPaymentRequestedEvent): PaymentRequest {
  return {
    id: e.subId,
    userId: e.user.id,
    email: e.user.email ?? null,
    customerId: null,
    paymentMethod: e.user.paymentMethod,
    ...toMinorUnits(e.product.price, e.product.currency),
    reference: { type: 'subscription', id: e.subId },
    description: null,
  };
}

export function registerListeners(deps: ListenerDeps, defaultCurrency: string): void {
  listen(deps, Subjects.OrderCreated, orderCreatedSchema, (e) =>
    deps.orders.created({ ...e, price: e.ticket.price, currency: e.currency ?? defaultCurrency }),
  );
  // A cancel or another service's payment that waited in vain for its order leaves what it said in a
  // stand-in: the order, if it comes later (a long replay), comes cancelled or paid, never payable.
  listen(
    deps,
    Subjects.OrderCancelled,
    orderCancelledSchema,
    (e) => deps.orders.cancelled(e),
    (e) => deps.orders.keepCancel(e),
  );
  listen(
    deps,
    Subjects.PaymentCreated,
    paymentCreatedConsumedSchema,
    (e) => deps.orders.paid(e),
    (e) => deps.orders.keepPaid(e),
  );
  const request = async (req: PaymentRequest) => (await deps.requestPayment(req)).outcome;
  listen(deps, Subjects.PaymentRequested, paymentRequestedSchema, (e) => request(fromRequested(e)));
  listen(deps, Subjects.BillingPaymentRequested, billingPaymentRequestedSchema, (e) => request(fromBilling(e)));
}
