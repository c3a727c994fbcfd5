import mongoose, { Types } from 'mongoose';
import request from 'supertest';
import type { Service } from '../../src/service';
import { eventually, newId, newUser, sessionCookie, startTestService, uniqueName } from '../support/harness';
import { storedMessages } from '../support/nats-monitor';
import { startBusServer, type BusServer } from '../support/servers';

let nats: BusServer;
let service: Service | undefined;
let conn: mongoose.Connection;
const db = uniqueName('upgrade');

beforeAll(async () => {
  nats = await startBusServer();
  conn = await mongoose.createConnection(`${process.env.TEST_MONGO_URI}/${db}`).asPromise();
});

afterAll(async () => {
  await service?.stop();
  await conn.close();
  await nats.stop();
});

const at = new Date('2026-11-20T10:00:00Z');
/** A payment as the version before fixed payment ids wrote it. */
function legacyPayment(fields: { orderId: Types.ObjectId; userId: string; status: string; event?: object }) {
  const _id = new Types.ObjectId();
  const succeeded = fields.status === 'succeeded';
  const eventId = newId();
  return {
    _id,
    orderId: fields.orderId,
    userId: fields.userId,
    claim: fields.orderId.toHexString(),
    amount: 2000,
    currency: 'usd',
    source: 'tok_visa_legacy',
    status: fields.status,
    stripeId: succeeded ? 'ch_legacy' : null,
    failureReason: null,
    idempotencyKey: null,
    history: [{ status: 'pending', at }, ...(succeeded ? [{ status: 'succeeded', at }] : [])],
    events: succeeded
      ? [
          {
            id: eventId,
            subject: 'payment:created',
            data: {
              eventId,
              id: _id.toHexString(),
              orderId: fields.orderId.toHexString(),
              stripeId: 'ch_legacy',
              userId: fields.userId,
              amount: 2000,
              currency: 'usd',
            },
            at,
          },
        ]
      : [],
    unpublished: succeeded ? [eventId] : [],
    leaseUntil: succeeded ? null : at,
    attempts: 0,
    createdAt: at,
    updatedAt: at,
    eventId,
  };
}

describe('data written by the previous version', () => {
  test('is upgraded at start: its paid orders stay paid, its unpublished event goes out, its token goes, new payments work', async () => {
    const user = newUser();
    const orders = conn.collection('orders');
    const payments = conn.collection('payments');
    const paidOrder = new Types.ObjectId();
    const freshOrder = new Types.ObjectId();
    const pendingOrder = new Types.ObjectId();
    for (const _id of [paidOrder, freshOrder, pendingOrder]) {
      await orders.insertOne({ _id, version: 0, status: 'created', userId: user.id, amount: 2000, currency: 'usd' });
    }
    await payments.createIndex({ claim: 1 }, { unique: true });
    const { eventId, ...paid } = legacyPayment({ orderId: paidOrder, userId: user.id, status: 'succeeded' });
    await payments.insertOne(paid);
    await conn.collection('outbox').insertOne({ _id: eventId as never, paymentId: paid._id, at });
    const { eventId: _, ...pending } = legacyPayment({ orderId: pendingOrder, userId: user.id, status: 'pending' });
    await payments.insertOne(pending);

    ({ service } = await startTestService({ nats, db }));

    // The order its payment holds is refused, not charged a second time.
    const again = await request(service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'tok_visa', orderId: paidOrder.toHexString() });
    expect(again.status).toBe(409);
    expect(again.body.errors[0].code).toBe('order_already_paid');
    // The event it had not published goes out, with its id.
    // Counted once nothing is left to send, so that a second copy would be counted too.
    await eventually(async () => (await storedMessages(nats, 'payment:created')).length > 0);
    const { outbox } = service;
    await service.stores.payments.idle();
    await eventually(async () => (await outbox.backlog()) === 0);
    const events = (await storedMessages(nats, 'payment:created')) as { eventId: string }[];
    expect(events).toEqual([expect.objectContaining({ eventId, id: paid._id.toHexString() })]);
    // It reads as a payment of today, without its card token.
    const read = await request(service.app)
      .get(`/api/payments/${paid._id.toHexString()}`)
      .set('Cookie', sessionCookie(user));
    expect(read.body).toMatchObject({ status: 'succeeded', stripeId: 'ch_legacy', amountRefunded: 0, refunds: [] });
    expect(JSON.stringify(await payments.findOne({ _id: paid._id }))).not.toContain('tok_visa_legacy');
    // And new payments go in beside it: the unique claim index is gone.
    const fresh = await request(service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'tok_visa', orderId: freshOrder.toHexString() });
    expect(fresh.status).toBe(201);
    expect((await payments.indexes()).map((i) => i.name)).not.toContain('claim_1');
    // A payment it left pending is settled by the reconciler, under the key it always used.
    await service.reconciler.runOnce();
    expect(await service.stores.payments.load(pending._id.toHexString())).toMatchObject({
      status: 'succeeded',
      source: null,
    });
  });
});
