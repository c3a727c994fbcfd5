import { Router } from 'express';
import { query } from 'express-validator';
import type { DeadDeliveryStore } from '../db/dead-deliveries';
import { ConflictError, InvalidInputError, NotFoundError } from '../domain/errors';
import type { Outbox } from '../outbox/outbox';
import { requireAdmin } from './auth';
import { presentDeadDelivery, presentList, presentRequeued } from './present';
import { validate } from './validate';

const BASE = '/api/payments/admin/deliveries';

/** Deliveries the outbox gave up on (callbacks to order services), for admins: read them, send one again. */
export function deliveriesRouter(deps: { deadDeliveries: DeadDeliveryStore; outbox: Pick<Outbox, 'redeliver'> }) {
  const router = Router();

  router.get(
    BASE,
    requireAdmin,
    validate([
      // Only dead deliveries are kept to be read; naming the status leaves room for others.
      query('status').isIn(['dead']).withMessage('status must be dead'),
      query('limit').optional().isInt({ min: 1, max: 100 }).withMessage('limit must be a whole number from 1 to 100'),
      query('starting_after').optional().isString().notEmpty().withMessage('starting_after must be a delivery id'),
    ]),
    async (req, res) => {
      const q = req.query as Record<string, string | undefined>;
      const page = await deps.deadDeliveries.page({
        limit: q.limit ? Number(q.limit) : 10,
        ...(q.starting_after && { startingAfter: q.starting_after }),
      });
      if (!page) {
        throw new InvalidInputError('starting_after is not a dead delivery', 'starting_after', 'invalid_field');
      }
      res.json(presentList(BASE, page.data.map(presentDeadDelivery), page.hasMore));
    },
  );

  router.post(`${BASE}/:id/redeliver`, requireAdmin, async (req, res) => {
    const dead = await deps.deadDeliveries.get(req.params.id as string);
    if (!dead) throw new NotFoundError('No dead delivery has this id');
    const queued = await deps.outbox.redeliver(dead);
    if (!queued) {
      throw new ConflictError('Its receiver is no longer configured in ORDER_CALLBACK_URL', 'receiver_not_configured');
    }
    req.log.info({ id: dead.id, destination: dead.destination }, 'dead delivery sent again');
    res.json(presentRequeued(dead, queued));
  });

  return router;
}
