import type { Config } from '../config';
import type { PaymentProvider } from '../domain/ports';
import { createSimulatorProvider } from './simulator';
import { createStripeProvider } from './stripe';

export function createProvider(config: Config['provider']): PaymentProvider {
  if (config.kind === 'simulator') return createSimulatorProvider();
  return createStripeProvider({
    key: config.stripeKey as string,
    apiBase: config.stripeApiBase,
    timeoutMs: config.timeoutMs,
  });
}
