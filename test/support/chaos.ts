import { setTimeout as sleep } from 'node:timers/promises';
import mongoose from 'mongoose';
import { DUE_COLLECTION, PENDING_COLLECTION } from '../../src/db/collections';
import { busClient, newId, signToken, testEnv, uniqueName, type TestUser } from './harness';
import { storedMessages } from './nats-monitor';
import { spawnService, type ServiceProcess } from './process';
import { freePort, startNatsStreaming } from './servers';
import { startStripeProxy } from './stripe-proxy';

export interface ChaosOptions {
  /** Orders paid; each paid order is then refunded twice in part, and asked a third refund it cannot have. */
  payments: number;
  clients: number;
  /** New payments started per second, all clients together: a run long enough for the faults to land. */
  ratePerSecond: number;
  /** NATS Streaming is stopped and started again this often. */
  natsEveryMs: number;
  /** The service is killed with SIGKILL and started again this often. */
  serviceEveryMs: number;
  /** How long after the last answer every payment must be settled and published. */
  settleMs: number;
  /** The database is killed and started again this often, by `restart` (off without it). */
  db?: { everyMs: number; restart(): Promise<void> };
  /**
   * The provider misbehaves this often (off without it), in turn: the answers to the next charges
   * are lost (the charges made, the service told 500), the same for refunds, the next requests'
   * connections dropped, the next requests refused with 429.
   */
  providerEveryMs?: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  payments: number;
  seconds: number;
  natsRestarts: number;
  serviceKills: number;
  dbRestarts: number;
  providerFaults: number;
  /** Orders the provider charged under more than one idempotency key. */
  doubleCharges: number;
  /** Orders the provider charged whose payment did not end succeeded. */
  chargedNotSucceeded: number;
  /** Succeeded payments with no payment:created stored on the server. */
  lostEvents: number;
  /** Copies of payment:created beyond the first, by eventId (allowed: delivery is at least once). */
  duplicateMessages: number;
  /** Payments and refunds still pending after the settle time, and changes still on the reconciler's list. */
  stuckPending: number;
  /** Messages still in the outbox after the settle time. */
  undelivered: number;
  /** Final answers to the clients other than 201, by status. */
  not201: Record<string, number>;
  /** Refunds the provider made (one per idempotency key) beyond the amount of their payment, in payments. */
  overRefunded: number;
  /** Refunds the provider made that the service does not hold as succeeded. */
  refundsMadeNotRecorded: number;
  /** Refunds the service holds as succeeded that the provider did not make. */
  refundsRecordedNotMade: number;
  /** Succeeded refunds with no payment:refunded stored on the server. */
  lostRefundEvents: number;
  /** Final answers to refunds other than expected (201, 201, then 409 refund_exceeds_remaining), by `refund n: status code`. */
  unexpectedRefundAnswers: Record<string, number>;
  clientRetries: number;
}

// Each paid order is refunded 40% twice; a third 40% is more than is left.
const REFUND_SHARE = 0.4;
const EXPECTED_REFUND_ANSWERS = ['201', '201', '409 refund_exceeds_remaining'];

/**
 * Pays `payments` orders from `clients` clients that retry with their
 * Idempotency-Keys, and refunds each paid order 40% twice and asks a third 40%,
 * while NATS Streaming is restarted and the service is killed and restarted;
 * then counts what matters to money: double charges, charges without a
 * succeeded payment, refunds beyond what was charged, refunds made and not
 * recorded (or recorded and not made), lost and duplicated events, stuck
 * payments and refunds. Everything is read at its source: the provider's
 * charges and refunds at a counting proxy, the messages on the NATS Streaming
 * server, the payments in the database.
 */
export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? (() => undefined);
  const nats = await startNatsStreaming({ fileStore: true });
  const stripe = await startStripeProxy(process.env.STRIPE_MOCK_URL as string);
  const db = uniqueName('chaos');
  const conn = await mongoose.createConnection(`${process.env.TEST_MONGO_URI}/${db}`).asPromise();
  const port = await freePort();
  const user: TestUser = { id: newId(), email: 'chaos@test.io' };
  const env = () =>
    testEnv(nats, db, {
      PORT: String(port),
      // The payer refunds its own payments: the faults land on refunds as on charges.
      ADMIN_USER_IDS: user.id,
      STRIPE_API_BASE: stripe.url,
      PROVIDER_TIMEOUT_MS: '2000',
      PAYMENTS_RECONCILE_AFTER_MS: '5000',
      PAYMENTS_RECONCILE_INTERVAL_MS: '1000',
      OUTBOX_INTERVAL_MS: '500',
      // A new client id at every start, as a new pod has.
      NATS_CLIENT_ID: uniqueName('chaos'),
    });
  let service: ServiceProcess = await spawnService(env());
  const stopped: Promise<unknown>[] = [];
  let stopping = false;
  let natsRestarts = 0;
  let serviceKills = 0;
  let dbRestarts = 0;
  let providerFaults = 0;
  try {
    await service.ready();
    const token = signToken(user);
    const peer = await busClient(nats);
    const orderIds = Array.from({ length: opts.payments }, () => newId());
    for (const id of orderIds) {
      await peer.publish('order:created', {
        id,
        version: 0,
        status: 'created',
        userId: user.id,
        ticket: { id: newId(), price: 12.34 },
      });
    }
    await peer.close();
    const orders = conn.collection('orders');
    while ((await orders.countDocuments()) < opts.payments) await sleep(100);

    // Faults: NATS Streaming stopped and started, the service killed and started, on their own clocks.
    const faults = async (everyMs: number, fault: () => Promise<void>) => {
      while (!stopping) {
        await sleep(everyMs);
        if (stopping) return;
        await fault().catch((err: unknown) => log(`fault failed: ${String(err)}`));
      }
    };
    stopped.push(
      faults(opts.natsEveryMs, async () => {
        await nats.stop();
        await sleep(300);
        await nats.start();
        natsRestarts++;
      }),
      faults(opts.serviceEveryMs, async () => {
        await service.kill('SIGKILL');
        serviceKills++;
        service = await spawnService(env());
        await service.ready(60_000);
      }),
    );
    if (opts.providerEveryMs) {
      const misbehave = [
        () => stripe.loseReplies(3, '/v1/charges'),
        () => stripe.loseReplies(2, '/v1/refunds'),
        () => stripe.failNext(3, 'drop'),
        () => stripe.failNext(3, 429, 'rate_limit_error'),
      ];
      stopped.push(
        faults(opts.providerEveryMs, () => Promise.resolve(misbehave[providerFaults++ % misbehave.length]?.())),
      );
    }
    const { db: database } = opts;
    if (database) {
      stopped.push(
        faults(database.everyMs, async () => {
          await database.restart();
          dbRestarts++;
        }),
      );
    }

    const not201: Record<string, number> = {};
    let clientRetries = 0;
    let next = 0;
    let answered = 0;
    const started = Date.now();
    // The n-th payment starts no sooner than n / rate seconds into the run.
    const slot = async (n: number) => {
      const wait = started + (n * 1000) / opts.ratePerSecond - Date.now();
      if (wait > 0) await sleep(wait);
    };
    type Answer = { status: number; body: { id?: string; amount?: number; errors?: { code?: string }[] } };
    // Asked again with its Idempotency-Key until it answers other than "try again".
    const post = async (path: string, key: string, body: unknown): Promise<Answer> => {
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) clientRetries++;
        const res = await fetch(`http://127.0.0.1:${port}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        }).then(
          async (r) => ({ status: r.status, body: (await r.json().catch(() => ({}))) as Answer['body'] }),
          () => null,
        );
        const retry =
          res === null ||
          res.status >= 500 ||
          (res.status === 409 && res.body.errors?.[0]?.code === 'idempotency_key_in_use');
        if (!retry) return res;
        if (Date.now() - started > 20 * 60_000) throw new Error(`${path} (${key}) never answered`);
        await sleep(200);
      }
    };
    const unexpectedRefundAnswers: Record<string, number> = {};
    const payAndRefund = async (orderId: string) => {
      const paid = await post('/api/payments', `chaos-${orderId}`, { token: 'tok_visa', orderId });
      if (paid.status !== 201) {
        not201[paid.status] = (not201[paid.status] ?? 0) + 1;
        return;
      }
      const amount = Math.floor((paid.body.amount as number) * REFUND_SHARE);
      for (const [n, expected] of EXPECTED_REFUND_ANSWERS.entries()) {
        const res = await post(`/api/payments/${paid.body.id}/refunds`, `chaos-refund-${orderId}-${n}`, { amount });
        const said = [res.status, res.status === 201 ? undefined : res.body.errors?.[0]?.code]
          .filter(Boolean)
          .join(' ');
        if (said !== expected) {
          const k = `refund ${n + 1}: ${said}`;
          unexpectedRefundAnswers[k] = (unexpectedRefundAnswers[k] ?? 0) + 1;
        }
      }
    };
    await Promise.all(
      Array.from({ length: opts.clients }, async () => {
        while (next < orderIds.length) {
          const n = next++;
          await slot(n);
          await payAndRefund(orderIds[n] as string);
          if (++answered % 100 === 0) log(`${answered} of ${orderIds.length} payments answered and refunded`);
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    stopping = true;
    await Promise.all(stopped);
    await nats.start();
    await service.ready(60_000);

    // Settled: nothing pending, nothing on the reconciler's list (a change whose writer was killed
    // before its events and stored copy stays there until the reconciler finished it), nothing left
    // in the outbox; then count.
    const payments = conn.collection('payments');
    // A refund pending (the provider or the service away when it was asked) is settled by the reconciler.
    const refundsPending = async () =>
      (await payments.find({}, { projection: { refunds: 1 } }).toArray()).filter((p) =>
        ((p.refunds ?? []) as { status: string }[]).some((r) => r.status === 'pending'),
      ).length;
    const unsettled = async () =>
      (await payments.countDocuments({ status: 'pending' })) +
      (await conn.collection(PENDING_COLLECTION).countDocuments()) +
      (await conn.collection(DUE_COLLECTION).countDocuments()) +
      (await refundsPending());
    const backlog = () => conn.collection('outbox').countDocuments();
    const deadline = Date.now() + opts.settleMs;
    while (Date.now() < deadline) {
      if ((await unsettled()) === 0 && (await backlog()) === 0) break;
      await sleep(250);
    }
    const all = await payments.find({}).toArray();
    // Succeeded, and refunded since in part or in full.
    const charged = all.filter((p) => ['succeeded', 'partially_refunded', 'refunded'].includes(p.status as string));
    const messages = (await storedMessages(nats, 'payment:created')) as { eventId: string; id: string }[];
    const published = new Set(messages.map((m) => m.id));
    const copies = new Map<string, number>();
    for (const m of messages) copies.set(m.eventId, (copies.get(m.eventId) ?? 0) + 1);

    const keysByOrder = new Map<string, Set<string>>();
    for (const c of stripe.chargesMade()) {
      const orderId = new URLSearchParams(c.body).get('metadata[orderId]') ?? '?';
      keysByOrder.set(orderId, (keysByOrder.get(orderId) ?? new Set()).add(c.idempotencyKey ?? ''));
    }
    const chargedOrders = new Set(charged.map((p) => String(p.orderId)));

    // Refunds at the provider, one per idempotency key (`refund-<refund id>`), by payment.
    const madeByPayment = new Map<string, Map<string, number>>();
    for (const r of stripe.refundsMade()) {
      const form = new URLSearchParams(r.body);
      const paymentId = form.get('metadata[paymentId]') ?? '?';
      const made = madeByPayment.get(paymentId) ?? new Map<string, number>();
      made.set(r.idempotencyKey ?? '', Number(form.get('amount')));
      madeByPayment.set(paymentId, made);
    }
    const refundMessages = (await storedMessages(nats, 'payment:refunded')) as { id: string }[];
    const refundsPublished = new Set(refundMessages.map((m) => m.id));
    let overRefunded = 0;
    let refundsMadeNotRecorded = 0;
    let refundsRecordedNotMade = 0;
    let lostRefundEvents = 0;
    for (const p of all) {
      const made = madeByPayment.get(String(p._id)) ?? new Map<string, number>();
      const done = ((p.refunds ?? []) as { id: string; status: string }[]).filter((r) => r.status === 'succeeded');
      const recorded = new Set(done.map((r) => `refund-${r.id}`));
      const madeTotal = [...made.values()].reduce((sum, a) => sum + a, 0);
      if (madeTotal > (p.amount as number) || (p.amountRefunded ?? 0) > (p.amount as number)) overRefunded++;
      refundsMadeNotRecorded += [...made.keys()].filter((k) => !recorded.has(k)).length;
      refundsRecordedNotMade += [...recorded].filter((k) => !made.has(k)).length;
      lostRefundEvents += done.filter((r) => !refundsPublished.has(r.id)).length;
    }
    return {
      payments: opts.payments,
      seconds,
      natsRestarts,
      serviceKills,
      dbRestarts,
      providerFaults,
      doubleCharges: [...keysByOrder.values()].filter((keys) => keys.size > 1).length,
      chargedNotSucceeded: [...keysByOrder.keys()].filter((o) => !chargedOrders.has(o)).length,
      lostEvents: charged.filter((p) => !published.has(String(p._id))).length,
      duplicateMessages: [...copies.values()].reduce((n, c) => n + c - 1, 0),
      // Settled payments leave the pending ones within a second: what is still there is stuck.
      stuckPending: await unsettled(),
      undelivered: await backlog(),
      not201,
      overRefunded,
      refundsMadeNotRecorded,
      refundsRecordedNotMade,
      lostRefundEvents,
      unexpectedRefundAnswers,
      clientRetries,
    };
  } finally {
    stopping = true;
    await Promise.allSettled(stopped);
    await service.kill('SIGTERM');
    await conn.close();
    await stripe.close();
    await nats.stop();
  }
}
