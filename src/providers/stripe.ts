import Stripe from 'stripe';
import { DeclinedError, InvalidInputError, NotFoundError, UpstreamUnavailableError } from '../domain/errors';
import type { ChargeRequest, ChargeState, FoundCharge, PaymentProvider, RefundOutcome } from '../domain/ports';

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

    async chargeSaved(req) {
      try {
        // Only what every Stripe-compatible server takes: localstripe refuses description and
        // statement_descriptor, so what describes the payment goes in the metadata.
        let intent = await stripe.paymentIntents.create(
          {
            amount: req.amount,
            currency: req.currency,
            payment_method: req.paymentMethod,
            ...(req.customerId !== null && { customer: req.customerId }),
            off_session: true,
            confirm: true,
            metadata: req.metadata,
          },
          { idempotencyKey: req.idempotencyKey },
        );
        // A repeat under the same key answers what the first request got (for 24 hours); where that
        // was processing (a bank debit, say), look at where it stands now.
        if (intent.status === 'processing') intent = await stripe.paymentIntents.retrieve(intent.id);
        return outcomeOf(intent);
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
        return {
          refundId: refund.id,
          status: refundStatus(refund),
          ...(refund.failure_reason ? { failureReason: refund.failure_reason } : {}),
        };
      } catch (err) {
        throw toDomainError(err);
      }
    },

    async findCharge(paymentId, how) {
      // Search is eventually consistent (about a minute); it is only asked about old payments.
      const query = `metadata['paymentId']:'${paymentId}'`;
      try {
        if (how === 'saved') {
          const intent = (await stripe.paymentIntents.search({ query, limit: 1 })).data[0];
          if (!intent) return null;
          const { chargeId, ...state } = stateOf(intent);
          return { ...state, chargeId: chargeId ?? intent.id };
        }
        const charge = (await stripe.charges.search({ query, limit: 1 })).data[0];
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

    async paymentState(intentId) {
      try {
        const intent = await stripe.paymentIntents.retrieve(intentId);
        return { paymentId: intent.metadata.paymentId ?? null, ...stateOf(intent) };
      } catch (err) {
        throw readError(err);
      }
    },

    async refundsOf(chargeId) {
      try {
        const [paymentId, refunds] = await Promise.all([
          paymentOfCharge(chargeId),
          stripe.refunds.list({ charge: chargeId, limit: 100 }),
        ]);
        return {
          paymentId,
          refunds: refunds.data.map((r) => ({
            id: r.id,
            amount: r.amount,
            status: refundStatus(r),
            refundId: r.metadata?.refundId ?? null,
            ...(r.failure_reason ? { failureReason: r.failure_reason } : {}),
          })),
        };
      } catch (err) {
        throw readError(err);
      }
    },

    async dispute(disputeId) {
      try {
        const d = await stripe.disputes.retrieve(disputeId);
        const chargeId = typeof d.charge === 'string' ? d.charge : d.charge.id;
        return { id: d.id, chargeId, paymentId: await paymentOfCharge(chargeId), amount: d.amount, reason: d.reason };
      } catch (err) {
        throw readError(err);
      }
    },
  };

  /** The payment a charge was made for: from its metadata, or from its PaymentIntent's. */
  async function paymentOfCharge(chargeId: string): Promise<string | null> {
    const charge = await stripe.charges.retrieve(chargeId);
    if (charge.metadata?.paymentId) return charge.metadata.paymentId;
    const intent = charge.payment_intent;
    if (!intent) return null;
    if (typeof intent !== 'string') return intent.metadata.paymentId ?? null;
    return (await stripe.paymentIntents.retrieve(intent)).metadata.paymentId ?? null;
  }
}

function refundStatus(refund: Stripe.Refund): RefundOutcome['status'] {
  if (refund.status === 'succeeded') return 'succeeded';
  return refund.status === 'failed' || refund.status === 'canceled' ? 'failed' : 'pending';
}

/** A PaymentIntent's outcome as the domain says it. */
function stateOf(intent: Stripe.PaymentIntent): Omit<ChargeState, 'paymentId'> {
  try {
    return { status: 'succeeded', ...outcomeOf(intent) };
  } catch (err) {
    if (!(err instanceof DeclinedError)) return { status: 'pending', chargeId: null };
    return {
      status: 'failed',
      chargeId: null,
      failureReason: err.message,
      ...(err.declineCode && { declineCode: err.declineCode }),
    };
  }
}

/**
 * Where a PaymentIntent confirmed off-session stands: its charge, or the decline. A
 * card that asks for its holder (3-D Secure) cannot be paid with nobody there.
 */
function outcomeOf(intent: Stripe.PaymentIntent): { chargeId: string } {
  const error = intent.last_payment_error;
  switch (intent.status) {
    case 'succeeded': {
      // Stripe names the charge; localstripe gives it whole.
      const charge = intent.latest_charge as string | { id: string } | null;
      return { chargeId: typeof charge === 'string' ? charge : (charge?.id ?? intent.id) };
    }
    case 'requires_action':
      return declined('authentication_required', 'authentication_required');
    case 'requires_payment_method':
    case 'canceled':
      return declined(error?.message ?? 'The payment method was declined', error?.decline_code || error?.code);
    default:
      // processing, or waiting for a step this service never asks for: settled later.
      throw new UpstreamUnavailableError(`The payment is ${intent.status} at the provider`);
  }
}

function declined(message: string, declineCode: string | undefined): never {
  throw new DeclinedError(message, undefined, { ...(declineCode && { declineCode }) });
}

/** For reads of what the provider keeps: an object it does not have is not found, not a rejected payment. */
function readError(err: unknown): Error {
  if (err instanceof Stripe.errors.StripeError && err.statusCode === 404) {
    return new NotFoundError(err.message || 'The provider has no such object', undefined, { cause: err });
  }
  return toDomainError(err);
}

function toDomainError(err: unknown): Error {
  if (!(err instanceof Stripe.errors.StripeError)) return err as Error;
  // 402 is Stripe's "the request was valid but the money did not move"; localstripe sends it
  // typed as an invalid request.
  if (err instanceof Stripe.errors.StripeCardError || err.statusCode === 402) {
    // Off-session, Stripe answers 402 authentication_required for a card that asks for its holder.
    if (err.code === 'authentication_required') {
      return new DeclinedError('authentication_required', 'token', { cause: err, declineCode: err.code });
    }
    const declineCode = err.decline_code || err.code;
    return new DeclinedError(err.message || 'The card was declined', 'token', {
      cause: err,
      ...(declineCode && { declineCode }),
    });
  }
  if (err instanceof Stripe.errors.StripeInvalidRequestError) {
    // Stripe refused the request itself (an unknown or used token): nothing was charged.
    return new InvalidInputError(err.message || 'The payment provider rejected the token', 'token', 'payment_rejected');
  }
  // Connection failures, 5xx, rate limits, bad credentials: the outcome is unknown or
  // retryable, so the payment stays pending and is settled later under the same key.
  return new UpstreamUnavailableError('The payment provider is unavailable', undefined, { cause: err });
}
