import request from 'supertest';
import { eventually, newId, sessionCookie, testEnv, useStack } from '../support/harness';
import { unacked as unackedOn } from '../support/nats-monitor';
import { runTool } from '../support/process';

const stack = useStack({
  name: 'listeners',
  env: { NATS_ACK_WAIT_MS: '1000', EVENT_MAX_DELIVERIES: '3', EVENT_MAX_AGE_MS: '600000' },
});

const created = (
  fields: Partial<{ id: string; version: number; price: number; currency: string; userId: string }> = {},
) => ({
  id: fields.id ?? newId(),
  version: fields.version ?? 0,
  status: 'created',
  userId: fields.userId ?? newId(),
  expiresAt: new Date().toISOString(),
  ticket: { id: newId(), price: fields.price ?? 19.99 },
  ...(fields.currency ? { currency: fields.currency } : {}),
});

/** Counts of events_consumed_total by outcome, read from the service's own metrics. */
async function consumed(subject: string, outcome: string): Promise<number> {
  const metric = await stack.service.metrics.eventsConsumed.get();
  return metric.values.find((v) => v.labels.subject === subject && v.labels.outcome === outcome)?.value ?? 0;
}

/** Asks the bus server how many messages the service's subscription has not acked. */
const unacked = (subject: string) => unackedOn(stack.nats, subject);

const toolEnv = () => testEnv(stack.nats, stack.service.db.connection.name, { LOG_LEVEL: 'silent' });

interface Listed {
  id: string;
  subject: string;
  payload: string;
  reason: string;
  deliveries: number;
}

/** The parked messages, as the operator's command lists them. */
async function deadLetters(): Promise<Listed[]> {
  const { code, stdout, stderr } = await runTool('dead-letters', ['list', '--json'], toolEnv());
  if (code !== 0) throw new Error(`dead-letters list exited ${code}: ${stderr}`);
  return JSON.parse(stdout) as Listed[];
}

describe('order:created', () => {
  test('stores the order with its version and the price in minor units of its currency', async () => {
    const e = created({ price: 19.99 });
    await stack.peer.publish('order:created', e);
    const order = await eventually(() => stack.service.stores.orders.get(e.id));
    expect(order).toMatchObject({ id: e.id, version: 0, userId: e.userId, amount: 1999, currency: 'usd' });

    const yen = created({ price: 1500, currency: 'JPY' });
    await stack.peer.publish('order:created', yen);
    expect(await eventually(() => stack.service.stores.orders.get(yen.id))).toMatchObject({
      amount: 1500,
      currency: 'jpy',
    });
  });

  test('acks a duplicate without changing the stored order', async () => {
    const e = created();
    await stack.peer.publish('order:created', e);
    await eventually(() => stack.service.stores.orders.get(e.id));
    const before = await consumed('order:created', 'duplicate');
    await stack.peer.publish('order:created', { ...e, ticket: { ...e.ticket, price: 1 } });
    await eventually(async () => (await consumed('order:created', 'duplicate')) === before + 1);
    expect(await stack.service.stores.orders.get(e.id)).toMatchObject({ amount: 1999 });
  });

  test('parks and acks payloads that can never be valid, and keeps serving', async () => {
    const before = await consumed('order:created', 'invalid');
    await stack.peer.publish('order:created', '{not json');
    await stack.peer.publish('order:created', { id: 'nope', version: 0 });
    await stack.peer.publish('order:created', created({ price: 12.345 })); // more decimals than USD has
    await eventually(async () => (await consumed('order:created', 'invalid')) === before + 3);
    await eventually(async () => (await unacked('order:created')) === 0);
    const parked = (await deadLetters()).filter((d) => d.subject === 'order:created');
    expect(parked.map((d) => d.payload)).toEqual(expect.arrayContaining(['{not json', '{"id":"nope","version":0}']));
    expect(parked).toHaveLength(3);
    expect(parked.map((d) => d.deliveries)).toEqual([1, 1, 1]);

    const fine = created();
    await stack.peer.publish('order:created', fine);
    await eventually(() => stack.service.stores.orders.get(fine.id));
  });
});

describe('order:cancelled', () => {
  test('applies to a known order and keeps the higher version', async () => {
    const e = created();
    await stack.peer.publish('order:created', e);
    await eventually(() => stack.service.stores.orders.get(e.id));
    await stack.peer.publish('order:cancelled', { id: e.id, version: 1, ticket: { id: e.ticket.id } });
    expect(
      await eventually(async () => {
        const o = await stack.service.stores.orders.get(e.id);
        return o?.status === 'cancelled' && o;
      }),
    ).toMatchObject({ version: 1 });
  });

  test('leaves an early cancellation unacked until the order it follows arrives, then applies it', async () => {
    const e = created();
    const early = await consumed('order:cancelled', 'early');
    await stack.peer.publish('order:cancelled', { id: e.id, version: 1, ticket: { id: e.ticket.id } });
    await eventually(async () => (await consumed('order:cancelled', 'early')) > early);
    expect(await unacked('order:cancelled')).toBeGreaterThan(0);

    await stack.peer.publish('order:created', e);
    const order = await eventually(async () => {
      const o = await stack.service.stores.orders.get(e.id);
      return o?.status === 'cancelled' && o;
    });
    expect(order.version).toBe(1);
    await eventually(async () => (await unacked('order:cancelled')) === 0);
  });

  test('acks a duplicate or older cancellation without change', async () => {
    const e = created();
    await stack.peer.publish('order:created', e);
    await eventually(() => stack.service.stores.orders.get(e.id));
    await stack.peer.publish('order:cancelled', { id: e.id, version: 1, ticket: { id: e.ticket.id } });
    await eventually(async () => (await stack.service.stores.orders.get(e.id))?.status === 'cancelled');
    const before = await consumed('order:cancelled', 'duplicate');
    await stack.peer.publish('order:cancelled', { id: e.id, version: 1, ticket: { id: e.ticket.id } });
    await eventually(async () => (await consumed('order:cancelled', 'duplicate')) === before + 1);
    expect(await stack.service.stores.orders.get(e.id)).toMatchObject({ version: 1, status: 'cancelled' });
  });
});

describe('order:cancelled from the real orders service', () => {
  test('a cancel with version 0 (as its user cancel sends) is applied, and the order is then refused with 400', async () => {
    const userId = newId();
    const e = created({ userId });
    await stack.peer.publish('order:created', e);
    await eventually(() => stack.service.stores.orders.get(e.id));
    await stack.peer.publish('order:cancelled', { id: e.id, version: 0, ticket: { id: e.ticket.id } });
    await eventually(async () => (await stack.service.stores.orders.get(e.id))?.status === 'cancelled');

    const res = await request(stack.service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie({ id: userId, email: 'u@test.io' }))
      .send({ token: 'tok_visa', orderId: e.id });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].code).toBe('order_cancelled');
  });

  test('a redelivered order:created never undoes a cancel', async () => {
    const e = created();
    await stack.peer.publish('order:created', e);
    await eventually(() => stack.service.stores.orders.get(e.id));
    await stack.peer.publish('order:cancelled', { id: e.id, version: 1, ticket: { id: e.ticket.id } });
    await eventually(async () => (await stack.service.stores.orders.get(e.id))?.status === 'cancelled');
    const before = await consumed('order:created', 'duplicate');
    await stack.peer.publish('order:created', e);
    await eventually(async () => (await consumed('order:created', 'duplicate')) === before + 1);
    expect(await stack.service.stores.orders.get(e.id)).toMatchObject({ status: 'cancelled' });
  });
});

describe('a message that can never be processed', () => {
  test('a cancel whose order never arrives is parked after EVENT_MAX_DELIVERIES, acked, counted and listed; replay applies it', async () => {
    const e = created();
    const cancel = { id: e.id, version: 1, ticket: { id: e.ticket.id } };
    await stack.peer.publish('order:cancelled', cancel);
    await eventually(async () => (await consumed('order:cancelled', 'parked')) >= 1, 15_000);
    await eventually(async () => (await unacked('order:cancelled')) === 0);

    const parked = (await deadLetters()).filter((d) => d.subject === 'order:cancelled' && d.payload.includes(e.id));
    expect(parked).toEqual([
      expect.objectContaining({
        payload: JSON.stringify(cancel),
        deliveries: 3,
        reason: expect.stringMatching(/not seen yet \(after 3 deliveries/),
      }),
    ]);

    // The order arrives at last; the operator replays the parked cancel.
    await stack.peer.publish('order:created', e);
    await eventually(() => stack.service.stores.orders.get(e.id));
    const replay = await runTool('dead-letters', ['replay', parked[0]!.id], toolEnv());
    expect(replay.code).toBe(0);
    await eventually(async () => (await stack.service.stores.orders.get(e.id))?.status === 'cancelled');
    expect((await deadLetters()).filter((d) => d.id === parked[0]!.id)).toEqual([]);
  });
});
