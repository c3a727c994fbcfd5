import { DomainError } from '../domain/errors';
import type { PaymentProvider } from '../domain/ports';
import type { Metrics } from '../metrics';

/** Times every provider call by outcome, whatever the provider. */
export function instrumentProvider(provider: PaymentProvider, metrics: Metrics): PaymentProvider {
  async function timed<T>(operation: string, call: () => Promise<T>): Promise<T> {
    const end = metrics.providerLatency.startTimer({ operation });
    try {
      const result = await call();
      end({ outcome: 'ok' });
      return result;
    } catch (err) {
      end({ outcome: err instanceof DomainError ? err.code : 'error' });
      throw err;
    }
  }
  return {
    charge: (req) => timed('charge', () => provider.charge(req)),
    chargeSaved: (req) => timed('charge_saved', () => provider.chargeSaved(req)),
    findCharge: (paymentId, how) => timed('find_charge', () => provider.findCharge(paymentId, how)),
    refund: (req) => timed('refund', () => provider.refund(req)),
    paymentState: (id) => timed('read_payment', () => provider.paymentState(id)),
    refundsOf: (chargeId) => timed('read_refunds', () => provider.refundsOf(chargeId)),
    dispute: (id) => timed('read_dispute', () => provider.dispute(id)),
  };
}
