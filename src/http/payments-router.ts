import express, { Router } from 'express';
import { body } from 'express-validator';
import type { IdempotencyStore } from '../db/idempotency';
import { DomainError } from '../domain/errors';
import type { Pay } from '../domain/pay';
import type { Payment } from '../domain/payment';
import type { Clock } from '../domain/ports';
import type { Metrics } from '../metrics';
import { requireAuth } from './auth';
import { idempotent } from './idempotency';
import { validate } from './validate';

/** A payment as the API shows it: never its card token or the key of the request that made it. */
export function presentPayment(p: Payment) {
  return {
    id: p.id,
    orderId: p.orderId,
    stripeId: p.chargeId,
    status: p.status,
    amount: p.amount,
    currency: p.currency,
    createdAt: p.createdAt.toISOString(),
  };
}

export function paymentsRouter(deps: {
  pay: Pay;
  idempotency: IdempotencyStore;
  clock: Clock;
  metrics: Metrics;
}): Router {
  const router = Router();

  router.post(
    '/api/payments',
    requireAuth,
    // Parsed only after authentication: an anonymous caller learns nothing from the body.
    express.json({ limit: '16kb' }),
    validate([
      body('token')
        .isString()
        .withMessage('token must be a string')
        .bail()
        .trim()
        .notEmpty()
        .withMessage('token is required'),
      body('orderId')
        .isString()
        .withMessage('orderId must be a string')
        .bail()
        .isMongoId()
        .withMessage('orderId must be a valid id'),
    ]),
    idempotent(deps.idempotency, deps.clock, async (req, requestKey) => {
      const { token, orderId } = req.body as { token: string; orderId: string };
      try {
        const payment = await deps.pay({ userId: req.currentUser!.id, orderId, source: token, requestKey });
        deps.metrics.payments.inc({ outcome: 'succeeded' });
        req.log.info({ paymentId: payment.id, orderId, amount: payment.amount }, 'payment succeeded');
        return { status: 201, body: presentPayment(payment) };
      } catch (err) {
        deps.metrics.payments.inc({ outcome: err instanceof DomainError ? err.code : 'error' });
        throw err;
      }
    }),
  );

  return router;
}
