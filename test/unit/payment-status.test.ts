import { ConflictError } from '../../src/domain/errors';
import { assertTransition, canTransition, PAYMENT_STATUSES } from '../../src/domain/payment-status';

describe('payment state machine', () => {
  const legal = new Set(['pending>succeeded', 'pending>failed', 'succeeded>refunded']);

  test.each(PAYMENT_STATUSES.flatMap((from) => PAYMENT_STATUSES.map((to) => [from, to] as const)))(
    '%s -> %s',
    (from, to) => {
      const allowed = legal.has(`${from}>${to}`);
      expect(canTransition(from, to)).toBe(allowed);
      if (allowed) expect(() => assertTransition(from, to)).not.toThrow();
      else expect(() => assertTransition(from, to)).toThrow(ConflictError);
    },
  );
});
