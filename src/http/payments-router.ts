import express, { Router, type Request } from 'express';
import { body, param, query } from 'express-validator';
import type { IdempotencyStore } from '../db/idempotency';
import type { PaymentQueries } from '../db/payment-queries';
import { DomainError, InvalidInputError, NotAuthorizedError, NotFoundError } from '../domain/errors';
import type { Pay } from '../domain/pay';
import { PAYMENT_STATUSES, type Payment, type PaymentStatus } from '../domain/payment';
import type { Clock, Payments } from '../domain/ports';
import type { Metrics } from '../metrics';
import { requireAuth } from './auth';
import { idempotent } from './idempotency';
import { presentCreated, presentList, presentPayment, presentRefund } from './present';
import { validate } from './validate';

const BASE = '/api/payments';
const CREATED = ['gt', 'gte', 'lt', 'lte'] as const;
/** 9999-12-31T23:59:59Z: a later bound would make an invalid Date, which inverts the filter. */
export const LAST_SECOND = 253_402_300_799;

/** The payment, if the caller may see it: its payer or an admin; anyone else gets 401, as the orders service answers. */
export async function visiblePayment(payments: Payments, req: Request): Promise<Payment> {
  const p = await payments.load(req.params.id as string);
  if (!p) throw new NotFoundError('Payment not found');
  const user = req.currentUser!;
  if (!user.admin && p.userId !== user.id) throw new NotAuthorizedError('Not authorized');
  return p;
}

export const paymentIdParam = param('id').isMongoId().withMessage('id must be a payment id');

export function paymentsRouter(deps: {
  pay: Pay;
  payments: Payments;
  queries: PaymentQueries;
  idempotency: IdempotencyStore;
  clock: Clock;
  metrics: Metrics;
}): Router {
  const router = Router();

  router.post(
    BASE,
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
        const { id: userId, email } = req.currentUser!;
        const payment = await deps.pay({ userId, email, orderId, source: token, requestKey });
        deps.metrics.payments.inc({ outcome: 'succeeded' });
        req.log.info({ paymentId: payment.id, orderId, amount: payment.amount }, 'payment succeeded');
        return { status: 201, body: presentCreated(payment) };
      } catch (err) {
        deps.metrics.payments.inc({ outcome: err instanceof DomainError ? err.code : 'error' });
        throw err;
      }
    }),
  );

  router.get(
    BASE,
    requireAuth,
    validate([
      query('limit').optional().isInt({ min: 1, max: 100 }).withMessage('limit must be a whole number from 1 to 100'),
      query('starting_after').optional().isMongoId().withMessage('starting_after must be a payment id'),
      query('ending_before').optional().isMongoId().withMessage('ending_before must be a payment id'),
      query('orderId').optional().isMongoId().withMessage('orderId must be a valid id'),
      query('status')
        .optional()
        .isIn(PAYMENT_STATUSES)
        .withMessage(`status must be one of ${PAYMENT_STATUSES.join(', ')}`),
      query('userId').optional().isString().notEmpty().withMessage('userId must be a user id'),
      ...CREATED.map((op) =>
        query(`["created[${op}]"]`)
          .optional()
          .isInt({ min: 0, max: LAST_SECOND })
          .withMessage(`created[${op}] must be a time in Unix seconds`),
      ),
    ]),
    async (req, res) => {
      const q = req.query as Record<string, string | undefined>;
      if (q.starting_after && q.ending_before) {
        throw new InvalidInputError(
          'Give starting_after or ending_before, not both',
          'starting_after',
          'invalid_field',
        );
      }
      const user = req.currentUser!;
      // A user sees their own payments; naming someone else is for admins.
      if (q.userId && q.userId !== user.id && !user.admin) throw new NotAuthorizedError('Not authorized');
      const userId = user.admin ? q.userId : user.id;
      const created = Object.fromEntries(
        CREATED.filter((op) => q[`created[${op}]`] !== undefined).map((op) => [
          op,
          new Date(Number(q[`created[${op}]`]) * 1000),
        ]),
      );
      const page = await deps.queries.page(
        {
          ...(userId && { userId }),
          ...(q.orderId && { orderId: q.orderId }),
          ...(q.status && { status: q.status as PaymentStatus }),
          ...(Object.keys(created).length > 0 && { created }),
        },
        {
          limit: q.limit ? Number(q.limit) : 10,
          ...(q.starting_after && { startingAfter: q.starting_after }),
          ...(q.ending_before && { endingBefore: q.ending_before }),
        },
      );
      if (!page) {
        const field = q.starting_after ? 'starting_after' : 'ending_before';
        throw new InvalidInputError(`${field} is not a payment of this list`, field, 'invalid_field');
      }
      res.json(presentList(BASE, page.data.map(presentPayment), page.hasMore));
    },
  );

  router.get(`${BASE}/:id`, requireAuth, validate([paymentIdParam]), async (req, res) => {
    res.json(presentPayment(await visiblePayment(deps.payments, req)));
  });

  router.get(`${BASE}/:id/refunds`, requireAuth, validate([paymentIdParam]), async (req, res) => {
    const p = await visiblePayment(deps.payments, req);
    res.json(
      presentList(
        `${BASE}/${p.id}/refunds`,
        p.refunds.map((r) => presentRefund(r, p)),
        false,
      ),
    );
  });

  return router;
}
