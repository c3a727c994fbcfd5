import { createHash } from 'node:crypto';
import { DeclinedError, InvalidInputError, NotFoundError } from '../domain/errors';
import type { PaymentProvider } from '../domain/ports';

const digest = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 24);

/**
 * A deterministic provider for demos without a Stripe account: `tok_visa`
 * succeeds, `tok_chargeDeclined` is declined; of saved payment methods,
 * `pm_card_visa` succeeds, `pm_card_chargeCustomerFail` is declined and
 * `pm_card_authenticationRequired` needs its holder. Every refund succeeds. Ids are
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
      return { chargeId: `ch_sim_${digest(req.idempotencyKey)}` };
    },
    async chargeSaved(req) {
      if (req.paymentMethod === 'pm_card_chargeCustomerFail') {
        throw new DeclinedError('Your card was declined.', undefined, { declineCode: 'card_declined' });
      }
      if (req.paymentMethod === 'pm_card_authenticationRequired') {
        throw new DeclinedError('authentication_required', undefined, { declineCode: 'authentication_required' });
      }
      if (req.paymentMethod !== 'pm_card_visa') {
        throw new InvalidInputError(`No such PaymentMethod: '${req.paymentMethod}'`, undefined, 'payment_rejected');
      }
      return { chargeId: `ch_sim_${digest(req.idempotencyKey)}` };
    },
    async findCharge() {
      return null;
    },
    // It sends no webhooks, so nobody asks it what changed.
    async paymentState(id) {
      throw new NotFoundError(`The simulator keeps no payment ${id}`);
    },
    async refundsOf(id) {
      throw new NotFoundError(`The simulator keeps no charge ${id}`);
    },
    async dispute(id) {
      throw new NotFoundError(`The simulator keeps no dispute ${id}`);
    },
    async refund(req) {
      return { refundId: `re_sim_${digest(req.idempotencyKey)}`, status: 'succeeded' };
    },
  };
}
