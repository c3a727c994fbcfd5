import Stripe from 'stripe';

/** The shared localstripe server (started by global-setup): it keeps charges, refunds and PaymentIntents. */
export const localstripeUrl = new URL(process.env.LOCALSTRIPE_URL as string);

/** A Stripe client talking to localstripe directly, to read back what the service did there. */
export const localstripe = new Stripe('sk_test_payments', {
  host: localstripeUrl.hostname,
  port: Number(localstripeUrl.port),
  protocol: 'http',
});
