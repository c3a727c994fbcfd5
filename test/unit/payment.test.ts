import { ConflictError, InvalidInputError } from '../../src/domain/errors';
import {
  apply,
  canRefund,
  canTransition,
  eventId,
  fail,
  markDisputed,
  markVoided,
  PAYMENT_STATUSES,
  paymentIdFor,
  refundable,
  refundFailed,
  refundIdFor,
  refundReversed,
  refundSucceeded,
  requestRefund,
  start,
  succeed,
  type Payment,
} from '../../src/domain/payment';

const at = new Date('2026-11-23T10:00:00Z');
const later = new Date('2026-11-23T10:00:01Z');
const due = new Date('2026-11-23T10:00:30Z');
const pending = (amount = 1999): Payment =>
  start({
    id: paymentIdFor('6650c3f2a1b2c3d4e5f60718', 0),
    orderId: '6650c3f2a1b2c3d4e5f60718',
    userId: 'user-1',
    amount,
    currency: 'usd',
    source: 'tok_visa',
    requestKey: null,
    at,
    dueAt: due,
  });
const paid = (amount = 1999) => {
  const p = pending(amount);
  return apply(p, succeed(p, 'ch_1', later));
};
/** The payment after a refund of `amount` was asked for and, unless `outcome` says otherwise, succeeded. */
function refunded(p: Payment, amount: number | undefined, outcome: 'succeeded' | 'failed' | 'pending' = 'succeeded') {
  const id = refundIdFor(p.id, p.version + 1);
  const asked = apply(
    p,
    requestRefund(p, {
      refundId: id,
      reason: 'requested_by_customer',
      at: later,
      dueAt: due,
      ...(amount !== undefined && { amount }),
    }),
  );
  if (outcome === 'pending') return asked;
  return apply(
    asked,
    outcome === 'succeeded' ? refundSucceeded(asked, id, 're_1', later) : refundFailed(asked, id, 'no', later),
  );
}

describe('the payment state machine', () => {
  const legal = new Set([
    'pending>succeeded',
    'pending>failed',
    'pending>voided',
    // A payment that needed its holder, and got it after we recorded the decline.
    'failed>succeeded',
    'succeeded>succeeded',
    'succeeded>disputed',
    'partially_refunded>disputed',
    // A dispute opened after the money went back (a voided payment's late charge is refunded too).
    'refunded>disputed',
    'voided>disputed',
    'disputed>disputed',
    'succeeded>partially_refunded',
    'succeeded>refunded',
    'partially_refunded>partially_refunded',
    'partially_refunded>refunded',
    // A refund the provider reports failed after it succeeded (refundReversed).
    'refunded>partially_refunded',
    'refunded>succeeded',
    'partially_refunded>succeeded',
    'voided>voided',
  ]);

  test.each(PAYMENT_STATUSES.flatMap((from) => PAYMENT_STATUSES.map((to) => [from, to] as const)))(
    '%s -> %s',
    (from, to) => {
      expect(canTransition(from, to)).toBe(legal.has(`${from}>${to}`));
    },
  );

  test('a settled payment refuses another outcome', () => {
    expect(() => fail(paid(), 'declined', later)).toThrow(ConflictError);
    expect(() => succeed(paid(), 'ch_2', later)).toThrow(ConflictError);
  });
});

describe('a refund reversed (failed at the provider after it succeeded)', () => {
  test('gives back only its own amount, and only a succeeded refund can be reversed', () => {
    const first = refunded(paid(), 500);
    const both = refunded(first, 1000);
    const reversed = apply(both, refundReversed(both, first.refunds[0]!.id, 'expired_or_canceled_card', later));
    expect(reversed).toMatchObject({ status: 'partially_refunded', amountRefunded: 1000 });
    expect(refundable(reversed)).toBe(999);
    const asked = refunded(paid(), 500, 'pending');
    expect(() => refundReversed(asked, asked.refunds[0]!.id, 'no', later)).toThrow(ConflictError);
  });
});

describe('a change', () => {
  test('is the next version, with one event whose id is derived from the change', () => {
    const change = succeed(pending(), 'ch_1', later);
    expect(change).toMatchObject({ version: 1, kind: 'succeeded', status: 'succeeded', chargeId: 'ch_1', at: later });
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
      { status: 'failed', at: later, change: 'failed', reason: 'Your card was declined.' },
    ]);
  });
});

describe('the refund ceiling', () => {
  test.each([
    // amount charged, refunds already asked (with their outcome), refund asked now, what it leads to
    [1999, [], undefined, 'refunded', 1999],
    [1999, [], 1000, 'partially_refunded', 1000],
    [1999, [[1000, 'succeeded']], undefined, 'refunded', 1999],
    [1999, [[1000, 'succeeded']], 999, 'refunded', 1999],
    [1999, [[1000, 'failed']], 1999, 'refunded', 1999],
    [
      100,
      [
        [30, 'succeeded'],
        [30, 'succeeded'],
        [30, 'succeeded'],
      ],
      10,
      'refunded',
      100,
    ],
  ] as const)('%p charged, earlier %j, then %p: %s with %p back', (amount, earlier, ask, status, back) => {
    let p = paid(amount);
    for (const [a, outcome] of earlier) p = refunded(p, a, outcome);
    const done = refunded(p, ask);
    expect(done).toMatchObject({ status, amountRefunded: back });
    expect(refundable(done)).toBe(amount - back);
  });

  test.each([
    [1999, [], 2000],
    [1999, [[1000, 'succeeded']], 1000],
    [1999, [[1000, 'pending']], 1000], // set aside for a refund on its way, though not back yet
    [
      100,
      [
        [30, 'succeeded'],
        [30, 'pending'],
        [30, 'succeeded'],
      ],
      11,
    ],
  ] as const)('%p charged, earlier %j: %p more is refused with refund_exceeds_remaining', (amount, earlier, ask) => {
    let p = paid(amount);
    for (const [a, outcome] of earlier) p = refunded(p, a, outcome);
    expect(() => requestRefund(p, { refundId: 'r', amount: ask, reason: 'duplicate', at: later, dueAt: due })).toThrow(
      expect.objectContaining({ code: 'refund_exceeds_remaining' }),
    );
  });

  test('nothing left: a refund of what remains is refused; zero, negative and fractional amounts are invalid', () => {
    const all = refunded(paid(), undefined);
    expect(() => requestRefund(all, { refundId: 'r', reason: 'duplicate', at: later, dueAt: due })).toThrow(
      expect.objectContaining({ code: 'payment_not_refundable' }),
    );
    const some = refunded(paid(), 1000);
    for (const amount of [0, -1, 1.5]) {
      expect(() => requestRefund(some, { refundId: 'r', amount, reason: 'duplicate', at: later, dueAt: due })).toThrow(
        InvalidInputError,
      );
    }
  });

  test('only a succeeded or partly refunded payment can be refunded', () => {
    for (const p of [pending(), apply(pending(), fail(pending(), 'no', later))]) {
      expect(() => requestRefund(p, { refundId: 'r', reason: 'duplicate', at: later, dueAt: due })).toThrow(
        expect.objectContaining({ code: 'payment_not_refundable' }),
      );
    }
  });

  test('a succeeded refund is one event, refunded, naming the refund', () => {
    const p = paid();
    const id = refundIdFor(p.id, 2);
    const asked = apply(
      p,
      requestRefund(p, { refundId: id, amount: 500, reason: 'fraudulent', at: later, dueAt: due }),
    );
    expect(asked.dueAt).toEqual(due);
    const change = refundSucceeded(asked, id, 're_1', later);
    expect(change.events).toEqual([{ id: eventId(p.id, 3, 0), kind: 'refunded', refundId: id }]);
    expect(apply(asked, change).dueAt).toBeNull();
  });
});

describe('what a refund may be asked of', () => {
  test('a payment that took the money and has some left; not one pending, failed, voided or refunded in full', () => {
    const p = pending();
    expect(canRefund(paid())).toBe(true);
    expect(canRefund(refunded(paid(), 500))).toBe(true);
    expect(canRefund(refunded(paid(), undefined))).toBe(false);
    expect(canRefund(refunded(paid(), undefined, 'pending'))).toBe(false);
    expect(canRefund(p)).toBe(false);
    expect(canRefund(apply(p, fail(p, 'declined', later)))).toBe(false);
    expect(canRefund(apply(p, markVoided(p, later, null)))).toBe(false);
  });
});

describe('voids', () => {
  test('a pending payment is voided; with a charge found, with a refund of all of it', () => {
    expect(apply(pending(), markVoided(pending(), later, null))).toMatchObject({ status: 'voided', refunds: [] });
    const found = apply(pending(), markVoided(pending(), later, { chargeId: 'ch_1', refundId: 'r1', dueAt: due }));
    expect(found).toMatchObject({ status: 'voided', chargeId: 'ch_1', dueAt: due });
    expect(found.refunds).toEqual([expect.objectContaining({ id: 'r1', amount: 1999, status: 'pending' })]);
    expect(apply(found, refundSucceeded(found, 'r1', 're_1', later))).toMatchObject({
      status: 'voided',
      amountRefunded: 1999,
    });
  });

  test('a void whose late charge was refunded can be disputed; one without a charge cannot', () => {
    const found = apply(pending(), markVoided(pending(), later, { chargeId: 'ch_1', refundId: 'r1', dueAt: due }));
    const back = apply(found, refundSucceeded(found, 'r1', 're_1', later));
    const dispute = { id: 'dp_1', amount: 1999, reason: 'fraudulent' };
    expect(apply(back, markDisputed(back, dispute, later))).toMatchObject({ status: 'disputed', amountRefunded: 1999 });
    const none = apply(pending(), markVoided(pending(), later, null));
    expect(() => markDisputed(none, dispute, later)).toThrow(ConflictError);
  });

  test('a succeeded payment is refunded instead; a failed one cannot be voided', () => {
    expect(() => markVoided(paid(), later, null)).toThrow(expect.objectContaining({ code: 'use_refund' }));
    const failed = apply(pending(), fail(pending(), 'no', later));
    expect(() => markVoided(failed, later, null)).toThrow(expect.objectContaining({ code: 'payment_not_voidable' }));
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
