import express, { Router } from 'express';
import { body } from 'express-validator';
import type { IdempotencyStore } from '../db/idempotency';
import { DomainError } from '../domain/errors';
import { REFUND_REASONS, type RefundReason } from '../domain/payment';
import type { Clock, Payments } from '../domain/ports';
import type { RefundPayment } from '../domain/refund';
import type { VoidPayment } from '../domain/void';
import type { Metrics } from '../metrics';
import { requireAdmin } from './auth';
import { idempotent } from './idempotency';
import { paymentIdParam, visiblePayment } from './payments-router';
import { presentPayment, presentRefund } from './present';
import { jsonOnly, validate } from './validate';

/** Money going back: refunds and voids, for admins. */
export function refundsRouter(deps: {
  refund: RefundPayment;
  void: VoidPayment;
  payments: Payments;
  idempotency: IdempotencyStore;
  clock: Clock;
  metrics: Metrics;
}): Router {
  const router = Router();

  router.post(
    '/api/payments/:id/refunds',
    requireAdmin,
    jsonOnly,
    express.json({ limit: '16kb' }),
    validate([
      paymentIdParam,
      body('amount')
        .optional()
        .isInt({ min: 1, allow_leading_zeroes: false })
        .withMessage('amount must be a whole number of minor units above 0')
        .bail()
        .custom((v) => typeof v === 'number')
        .withMessage('amount must be a number'),
      body('reason')
        .optional()
        // isIn alone takes an array, checking each of its items.
        .isString()
        .withMessage(`reason must be one of ${REFUND_REASONS.join(', ')}`)
        .bail()
        .isIn(REFUND_REASONS)
        .withMessage(`reason must be one of ${REFUND_REASONS.join(', ')}`),
    ]),
    idempotent(deps.idempotency, deps.clock, async (req, requestKey) => {
      const { amount, reason } = req.body as { amount?: number; reason?: RefundReason };
      const paymentId = (await visiblePayment(deps.payments, req)).id;
      try {
        const done = await deps.refund({
          paymentId,
          reason: reason ?? 'requested_by_customer',
          ...(amount !== undefined && { amount }),
          ...(requestKey !== null && { requestKey }),
        });
        deps.metrics.refunds.inc({ outcome: done.refund.status });
        req.log.info({ paymentId, refundId: done.refund.id, amount: done.refund.amount }, 'refund succeeded');
        return {
          status: 201,
          body: { ...presentRefund(done.refund, done.payment), payment: presentPayment(done.payment) },
        };
      } catch (err) {
        deps.metrics.refunds.inc({ outcome: err instanceof DomainError ? err.code : 'error' });
        throw err;
      }
    }),
  );

  router.delete('/api/payments/:id', requireAdmin, validate([paymentIdParam]), async (req, res) => {
    const voided = await deps.void(req.params.id as string);
    req.log.info({ paymentId: voided.id }, 'payment voided');
    res.json(presentPayment(voided));
  });

  return router;
}
