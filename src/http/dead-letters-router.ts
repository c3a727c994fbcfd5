import { Router } from 'express';
import { query } from 'express-validator';
import type { DeadLetterStore } from '../db/dead-letters';
import { InvalidInputError } from '../domain/errors';
import type { Bus } from '../events/bus';
import { replayDeadLetter } from '../events/replay';
import { BusUnavailableError } from '../events/bus';
import { requireAdmin } from './auth';
import { RequestError } from './errors';
import { presentDeadLetter, presentList } from './present';
import { validate } from './validate';

const BASE = '/api/payments/admin/dead-letters';

/** Messages the listeners parked, for admins: read them, publish one again once what it waited for is fixed. */
export function deadLettersRouter(deps: { deadLetters: DeadLetterStore; bus: Pick<Bus, 'publish' | 'isConnected'> }) {
  const router = Router();

  router.get(
    BASE,
    requireAdmin,
    validate([
      query('limit').optional().isInt({ min: 1, max: 100 }).withMessage('limit must be a whole number from 1 to 100'),
      query('starting_after').optional().isString().notEmpty().withMessage('starting_after must be a message id'),
    ]),
    async (req, res) => {
      const q = req.query as Record<string, string | undefined>;
      const page = await deps.deadLetters.page({
        limit: q.limit ? Number(q.limit) : 10,
        ...(q.starting_after && { startingAfter: q.starting_after }),
      });
      if (!page) {
        throw new InvalidInputError('starting_after is not a parked message', 'starting_after', 'invalid_field');
      }
      res.json(presentList(BASE, page.data.map(presentDeadLetter), page.hasMore));
    },
  );

  router.post(`${BASE}/:id/replay`, requireAdmin, async (req, res) => {
    // The message stays parked: the admin tries again once the bus is back.
    const unavailable = () =>
      new RequestError(503, [{ message: 'The event bus is not connected', code: 'bus_unavailable' }]);
    if (!deps.bus.isConnected()) throw unavailable();
    const replayed = await replayDeadLetter(deps, req.params.id as string).catch((err: unknown) => {
      throw err instanceof BusUnavailableError ? unavailable() : err;
    });
    req.log.info({ id: replayed.id, subject: replayed.subject }, 'parked message replayed');
    res.json({ ...presentDeadLetter(replayed), status: 'replayed' });
  });

  return router;
}
