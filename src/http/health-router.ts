import { Router } from 'express';
import type { Metrics } from '../metrics';

export interface HealthChecks {
  mongo(): boolean;
  nats(): boolean;
}

/** Liveness says the process answers; readiness says its dependencies are connected. */
export function opsRouter(checks: HealthChecks, metrics: Metrics): Router {
  const router = Router();
  router.get('/api/payments/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/api/payments/health', (_req, res) => {
    const deps = { mongo: checks.mongo() ? 'up' : 'down', nats: checks.nats() ? 'up' : 'down' };
    const ready = Object.values(deps).every((s) => s === 'up');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'unavailable', dependencies: deps });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}
