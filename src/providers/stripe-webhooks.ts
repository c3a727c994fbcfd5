import Stripe from 'stripe';
import { InvalidInputError } from '../domain/errors';

/** Which of the provider's objects an event asks to read again; null for an event of no concern here. */
export type ReportSubject =
  | { kind: 'payment'; intentId: string }
  | { kind: 'refunds'; chargeId: string }
  | { kind: 'dispute'; disputeId: string }
  | null;

export interface ProviderReport {
  id: string;
  type: string;
  subject: ReportSubject;
}

function subjectOf(event: Stripe.Event): ReportSubject {
  const object = event.data.object as { id: string; charge?: string | { id: string } | null };
  switch (event.type) {
    case 'payment_intent.succeeded':
    case 'payment_intent.payment_failed':
    case 'payment_intent.canceled':
      return { kind: 'payment', intentId: object.id };
    case 'charge.refunded':
      return { kind: 'refunds', chargeId: object.id };
    case 'refund.created':
    case 'refund.updated':
    case 'refund.failed':
    case 'charge.refund.updated': {
      const charge = object.charge;
      if (!charge) return null;
      return { kind: 'refunds', chargeId: typeof charge === 'string' ? charge : charge.id };
    }
    case 'charge.dispute.created':
      return { kind: 'dispute', disputeId: object.id };
    default:
      return null;
  }
}

/**
 * Reads a Stripe webhook: its signature is checked against the raw body (Stripe's
 * default tolerance, 300 s), and the event says which object to read again.
 * Throws InvalidInputError for a bad or old signature.
 */
export function createStripeWebhookReader(secret: string) {
  return function read(rawBody: Buffer, signature: string | undefined): ProviderReport {
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(rawBody, signature ?? '', secret);
    } catch (err) {
      throw new InvalidInputError(
        `Stripe-Signature does not verify: ${(err as Error).message}`,
        'Stripe-Signature',
        'invalid_signature',
      );
    }
    return { id: event.id, type: event.type, subject: subjectOf(event) };
  };
}

export type StripeWebhookReader = ReturnType<typeof createStripeWebhookReader>;
