import cookieSession from 'cookie-session';
import express from 'express';
import type { Config } from './config';
import type { DeadDeliveryStore } from './db/dead-deliveries';
import type { DeadLetterStore } from './db/dead-letters';
import type { IdempotencyStore } from './db/idempotency';
import type { ProviderEventStore } from './db/provider-events';
import type { PaymentQueries } from './db/payment-queries';
import type { Pay } from './domain/pay';
import type { ProviderReports } from './domain/provider-reports';
import type { Clock, Payments } from './domain/ports';
import type { RefundPayment } from './domain/refund';
import type { VoidPayment } from './domain/void';
import type { Bus } from './events/bus';
import { authenticate } from './http/auth';
import { consoleRouter } from './http/console-router';
import { deadLettersRouter } from './http/dead-letters-router';
import { deliveriesRouter } from './http/deliveries-router';
import { docsRouter } from './http/docs-router';
import { errorHandler, notFound } from './http/errors';
import { opsRouter, type HealthChecks } from './http/health-router';
import { paymentsRouter } from './http/payments-router';
import { refundsRouter } from './http/refunds-router';
import { requestContext } from './http/request-context';
import { webhooksRouter } from './http/webhooks-router';
import type { Logger } from './log';
import type { Metrics } from './metrics';
import type { Outbox } from './outbox/outbox';
import type { StripeWebhookReader } from './providers/stripe-webhooks';

export interface AppDeps {
  config: Pick<Config, 'env' | 'jwtKey' | 'adminUserIds'>;
  log: Logger;
  metrics: Metrics;
  clock: Clock;
  pay: Pay;
  refund: RefundPayment;
  void: VoidPayment;
  payments: Payments;
  queries: PaymentQueries;
  idempotency: IdempotencyStore;
  deadDeliveries: DeadDeliveryStore;
  deadLetters: DeadLetterStore;
  bus: Pick<Bus, 'publish' | 'isConnected'>;
  outbox: Pick<Outbox, 'redeliver'>;
  health: HealthChecks;
  webhooks: { read: StripeWebhookReader | null; reports: ProviderReports; events: ProviderEventStore };
}

/** The Express app: it never listens and never connects; main.ts and the tests do. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.set('trust proxy', true);
  app.disable('x-powered-by');
  app.use(requestContext(deps.log, deps.metrics));
  app.use(cookieSession({ name: 'session', signed: false, secure: deps.config.env !== 'test' }));
  app.use(authenticate(deps.config.jwtKey, deps.config.adminUserIds));
  app.use(opsRouter(deps.health, deps.metrics));
  // Before the payments routes: /api/payments/doc/ and /api/payments/admin/ would otherwise be read as payment ids.
  app.use(docsRouter());
  app.use(consoleRouter());
  app.use(deadLettersRouter(deps));
  app.use(webhooksRouter({ ...deps.webhooks, clock: deps.clock, metrics: deps.metrics }));
  app.use(deliveriesRouter(deps));
  app.use(paymentsRouter(deps));
  app.use(refundsRouter(deps));
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
