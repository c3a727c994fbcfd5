import { createHash } from 'node:crypto';
import { DeclinedError, InvalidInputError } from '../domain/errors';
import type { PaymentProvider } from '../domain/ports';

/**
 * A deterministic provider for demos without a Stripe account: `tok_visa`
 * succeeds, `tok_chargeDeclined` is declined, every refund succeeds. Ids are
 * derived from the idempotency keys, so a retry reaches the same charge or
 * refund, as with Stripe. It keeps nothing, so it finds no old charge.
 */
export function createSimulatorProvider(): PaymentProvider {
  return {
    async charge(req) {
      if (req.source === 'tok_chargeDeclined') throw new DeclinedError('Your card was declined.', 'token');
      if (req.source !== 'tok_visa') {
        throw new InvalidInputError(`No such token: '${req.source}'`, 'token', 'payment_rejected');
      }
      const digest = createHash('sha256').update(req.idempotencyKey).digest('hex').slice(0, 24);
      return { chargeId: `ch_sim_${digest}` };
    },
    async findCharge() {
      return null;
    },
    async refund(req) {
      const digest = createHash('sha256').update(req.idempotencyKey).digest('hex').slice(0, 24);
      return { refundId: `re_sim_${digest}`, status: 'succeeded' };
    },
  };
}
