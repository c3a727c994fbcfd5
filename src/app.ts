import cookieSession from 'cookie-session';
import express from 'express';
import type { Config } from './config';
import type { IdempotencyStore } from './db/idempotency';
import type { Pay } from './domain/pay';
import type { Clock } from './domain/ports';
import { authenticate } from './http/auth';
import { docsRouter } from './http/docs-router';
import { errorHandler, notFound } from './http/errors';
import { opsRouter, type HealthChecks } from './http/health-router';
import { paymentsRouter } from './http/payments-router';
import { requestContext } from './http/request-context';
import type { Logger } from './log';
import type { Metrics } from './metrics';

export interface AppDeps {
  config: Pick<Config, 'env' | 'jwtKey'>;
  log: Logger;
  metrics: Metrics;
  clock: Clock;
  pay: Pay;
  idempotency: IdempotencyStore;
  health: HealthChecks;
}

/** The Express app: it never listens and never connects; main.ts and the tests do. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.set('trust proxy', true);
  app.disable('x-powered-by');
  app.use(requestContext(deps.log, deps.metrics));
  app.use(cookieSession({ name: 'session', signed: false, secure: deps.config.env !== 'test' }));
  app.use(authenticate(deps.config.jwtKey));
  app.use(opsRouter(deps.health, deps.metrics));
  app.use(paymentsRouter(deps));
  app.use(docsRouter());
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
