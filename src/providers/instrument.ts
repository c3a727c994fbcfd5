import { DomainError } from '../domain/errors';
import type { PaymentProvider } from '../domain/payment';
import type { Metrics } from '../metrics';

/** Times every provider call by outcome, whatever the provider. */
export function instrumentProvider(provider: PaymentProvider, metrics: Metrics): PaymentProvider {
  return {
    async charge(req) {
      const end = metrics.providerLatency.startTimer({ operation: 'charge' });
      try {
        const result = await provider.charge(req);
        end({ outcome: 'ok' });
        return result;
      } catch (err) {
        end({ outcome: err instanceof DomainError ? err.code : 'error' });
        throw err;
      }
    },
  };
}
