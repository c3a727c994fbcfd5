import Stripe from 'stripe';
import { DeclinedError, InvalidInputError, UpstreamUnavailableError } from '../domain/errors';
import type { ChargeRequest, FoundCharge, PaymentProvider, RefundOutcome } from '../domain/ports';

export interface StripeOptions {
  key: string;
  /** Another Stripe-compatible server (stripe-mock, localstripe), e.g. http://127.0.0.1:12111 */
  apiBase?: string;
  timeoutMs: number;
}

export function createStripeProvider(opts: StripeOptions): PaymentProvider {
  const base = opts.apiBase ? new URL(opts.apiBase) : undefined;
  const stripe = new Stripe(opts.key, {
    timeout: opts.timeoutMs,
    // The SDK retries network failures itself, under the same idempotency key.
    maxNetworkRetries: 1,
    ...(base && {
      host: base.hostname,
      port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)),
      protocol: base.protocol === 'https:' ? 'https' : 'http',
    }),
  });

  return {
    async charge(req: ChargeRequest) {
      try {
        const charge = await stripe.charges.create(
          {
            amount: req.amount,
            currency: req.currency,
            source: req.source,
            description: req.description,
            metadata: req.metadata,
          },
          { idempotencyKey: req.idempotencyKey },
        );
        if (charge.status === 'failed') {
          throw new DeclinedError(charge.failure_message ?? 'The card was declined');
        }
        return { chargeId: charge.id };
      } catch (err) {
        throw toDomainError(err);
      }
    },

    async refund(req) {
      try {
        // Only what every Stripe-compatible server takes: the reason goes in the metadata (localstripe refuses it).
        let refund = await stripe.refunds.create(
          { charge: req.chargeId, amount: req.amount, metadata: req.metadata },
          { idempotencyKey: req.idempotencyKey },
        );
        // A repeat under the same key answers what the first request got; where that was pending, look again.
        if (refund.status === 'pending') refund = await stripe.refunds.retrieve(refund.id);
        const status: RefundOutcome['status'] =
          refund.status === 'succeeded'
            ? 'succeeded'
            : refund.status === 'failed' || refund.status === 'canceled'
              ? 'failed'
              : 'pending';
        return {
          refundId: refund.id,
          status,
          ...(refund.failure_reason ? { failureReason: refund.failure_reason } : {}),
        };
      } catch (err) {
        throw toDomainError(err);
      }
    },

    async findCharge(paymentId) {
      try {
        // Search is eventually consistent (about a minute); it is only asked about old payments.
        const found = await stripe.charges.search({ query: `metadata['paymentId']:'${paymentId}'`, limit: 1 });
        const charge = found.data[0];
        if (!charge) return null;
        // Stripe may add statuses; anything unknown is treated as not settled yet.
        const status: FoundCharge['status'] =
          charge.status === 'succeeded' ? 'succeeded' : charge.status === 'failed' ? 'failed' : 'pending';
        return {
          chargeId: charge.id,
          status,
          ...(charge.failure_message ? { failureReason: charge.failure_message } : {}),
        };
      } catch (err) {
        throw toDomainError(err);
      }
    },
  };
}

function toDomainError(err: unknown): Error {
  if (!(err instanceof Stripe.errors.StripeError)) return err as Error;
  if (err instanceof Stripe.errors.StripeCardError) {
    return new DeclinedError(err.message || 'The card was declined', 'token', { cause: err });
  }
  if (err instanceof Stripe.errors.StripeInvalidRequestError) {
    // Stripe refused the request itself (an unknown or used token): nothing was charged.
    return new InvalidInputError(err.message || 'The payment provider rejected the token', 'token', 'payment_rejected');
  }
  // Connection failures, 5xx, rate limits, bad credentials: the outcome is unknown or
  // retryable, so the payment stays pending and is settled later under the same key.
  return new UpstreamUnavailableError('The payment provider is unavailable', undefined, { cause: err });
}
