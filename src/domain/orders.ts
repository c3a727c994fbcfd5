import type { OrderCancelledEvent, OrderCreatedEvent } from '../events/subjects';
import { OutOfOrderError } from './errors';
import { toMinorUnits } from './money';
import type { OrderStore } from './payment';

/** Keeps the local copy of orders that payments are checked against. */
export function createOrders(orders: OrderStore, defaultCurrency: string) {
  return {
    /** Duplicates are normal (at-least-once delivery) and change nothing. */
    async created(e: OrderCreatedEvent): Promise<'inserted' | 'duplicate'> {
      const { amount, currency } = toMinorUnits(e.ticket.price, e.currency ?? defaultCurrency);
      return orders.insert({ id: e.id, version: e.version, status: e.status, userId: e.userId, amount, currency });
    },

    /** Applies in version order only; an early event is refused so that it is redelivered. */
    async cancelled(e: OrderCancelledEvent): Promise<'cancelled' | 'duplicate'> {
      if (await orders.cancel(e.id, e.version)) return 'cancelled';
      const stored = await orders.findById(e.id);
      if (!stored || stored.version < e.version - 1) {
        throw new OutOfOrderError(`Order ${e.id} v${e.version - 1} not seen yet`);
      }
      return 'duplicate';
    },
  };
}

export type Orders = ReturnType<typeof createOrders>;
