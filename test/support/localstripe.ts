import Stripe from 'stripe';

/** The shared localstripe server (started by global-setup): it keeps charges, refunds and PaymentIntents. */
export const localstripeUrl = new URL(process.env.LOCALSTRIPE_URL as string);

/** A Stripe client talking to localstripe directly, to read back what the service did there. */
export const localstripe = new Stripe('sk_test_payments', {
  host: localstripeUrl.hostname,
  port: Number(localstripeUrl.port),
  protocol: 'http',
});

/**
 * The object the service made for a payment, found by the `paymentId` its metadata carries. localstripe
 * lists the oldest first, and the tests of a run share it: every page is read.
 */
export async function madeFor<T extends { metadata: Stripe.Metadata | null }>(
  list: Stripe.ApiListPromise<T>,
  paymentId: string,
): Promise<T | undefined> {
  for await (const item of list) if (item.metadata?.paymentId === paymentId) return item;
  return undefined;
}
