import { ConflictError } from '../../src/domain/errors';
import {
  apply,
  canTransition,
  eventId,
  fail,
  PAYMENT_STATUSES,
  paymentIdFor,
  start,
  succeed,
  type Payment,
} from '../../src/domain/payment';

const at = new Date('2026-11-23T10:00:00Z');
const later = new Date('2026-11-23T10:00:01Z');
const pending = (): Payment =>
  start({
    id: paymentIdFor('6650c3f2a1b2c3d4e5f60718', 0),
    orderId: '6650c3f2a1b2c3d4e5f60718',
    userId: 'user-1',
    amount: 1999,
    currency: 'usd',
    source: 'tok_visa',
    requestKey: null,
    at,
    dueAt: new Date(at.getTime() + 30_000),
  });

describe('the payment state machine', () => {
  const legal = new Set(['pending>succeeded', 'pending>failed']);

  test.each(PAYMENT_STATUSES.flatMap((from) => PAYMENT_STATUSES.map((to) => [from, to] as const)))(
    '%s -> %s',
    (from, to) => {
      expect(canTransition(from, to)).toBe(legal.has(`${from}>${to}`));
    },
  );

  test('a settled payment refuses another outcome', () => {
    const paid = apply(pending(), succeed(pending(), 'ch_1', later));
    expect(() => fail(paid, 'declined', later)).toThrow(ConflictError);
    expect(() => succeed(paid, 'ch_2', later)).toThrow(ConflictError);
  });
});

describe('a change', () => {
  test('is the next version, with one event whose id is derived from the change', () => {
    const change = succeed(pending(), 'ch_1', later);
    expect(change).toMatchObject({ version: 1, status: 'succeeded', chargeId: 'ch_1', at: later });
    expect(change.events).toEqual([{ id: eventId(change.paymentId, 1, 0), kind: 'succeeded' }]);
    expect(succeed(pending(), 'ch_1', later).events[0]?.id).toBe(change.events[0]?.id);
  });

  test('applied, settles the payment: the card token and the due time go, the history grows', () => {
    const failed = apply(pending(), fail(pending(), 'Your card was declined.', later));
    expect(failed).toMatchObject({
      status: 'failed',
      version: 1,
      failureReason: 'Your card was declined.',
      source: null,
      dueAt: null,
      updatedAt: later,
    });
    expect(failed.history).toEqual([
      { status: 'pending', at },
      { status: 'failed', at: later, reason: 'Your card was declined.' },
    ]);
  });
});

describe('ids', () => {
  test("an order's attempts have fixed, distinct, ObjectId-shaped payment ids", () => {
    const ids = [0, 1, 2].map((n) => paymentIdFor('6650c3f2a1b2c3d4e5f60718', n));
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{24}$/);
    expect(paymentIdFor('6650c3f2a1b2c3d4e5f60718', 1)).toBe(ids[1]);
  });

  test('event ids are UUID-shaped and differ by version and position', () => {
    const ids = [eventId('p', 1, 0), eventId('p', 2, 0), eventId('p', 2, 1)];
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });
});
