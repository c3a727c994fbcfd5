import express, { Router } from 'express';
import type { ProviderEventStore } from '../db/provider-events';
import { ConflictError, NotFoundError } from '../domain/errors';
import type { Clock } from '../domain/ports';
import type { ProviderReports, ReportOutcome } from '../domain/provider-reports';
import type { Metrics } from '../metrics';
import type { ReportSubject, StripeWebhookReader } from '../providers/stripe-webhooks';
import { RequestError } from './errors';

/**
 * Stripe's webhooks: what it reports after the calls that asked for it. A 2xx tells
 * Stripe to stop sending the event; anything else makes it send it again, for days.
 */
export function webhooksRouter(deps: {
  read: StripeWebhookReader | null;
  reports: ProviderReports;
  events: ProviderEventStore;
  clock: Clock;
  metrics: Metrics;
}): Router {
  const router = Router();

  function handle(subject: NonNullable<ReportSubject>): Promise<ReportOutcome> {
    switch (subject.kind) {
      case 'payment':
        return deps.reports.paymentChanged(subject.intentId);
      case 'refunds':
        return deps.reports.refundsChanged(subject.chargeId);
      case 'dispute':
        return deps.reports.disputed(subject.disputeId);
    }
  }

  router.post(
    '/api/payments/webhooks/stripe',
    // The signature is over the bytes as sent: the body is read raw, whatever its content type.
    express.raw({ type: () => true, limit: '1mb' }),
    async (req, res) => {
      if (!deps.read) {
        req.log.error('a Stripe webhook arrived, and STRIPE_WEBHOOK_SECRET is not set');
        throw new RequestError(503, [
          { message: 'Stripe webhooks are not configured here', code: 'webhooks_not_configured' },
        ]);
      }
      const report = deps.read(req.body as Buffer, req.get('stripe-signature'));
      const count = (outcome: string) => deps.metrics.providerEvents.inc({ type: report.type, outcome });
      if (await deps.events.handled(report.id)) {
        count('duplicate');
        res.json({ received: true, outcome: 'duplicate' });
        return;
      }
      let outcome: string;
      try {
        outcome = report.subject === null ? 'ignored' : await handle(report.subject);
      } catch (err) {
        // Sending it again would change nothing: answered, logged, counted.
        if (err instanceof NotFoundError) outcome = 'not_ours';
        else if (err instanceof ConflictError) {
          req.log.error({ err, event: report.id, type: report.type }, 'a provider event cannot be recorded');
          outcome = 'refused';
        } else throw err;
      }
      await deps.events.remember(report.id, report.type, outcome, deps.clock.now());
      count(outcome);
      req.log.info({ event: report.id, type: report.type, outcome }, 'provider event');
      res.json({ received: true, outcome });
    },
  );

  return router;
}
