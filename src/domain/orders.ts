import { OutOfOrderError } from './errors';
import { toMinorUnits } from './money';
import type { Orders } from './ports';

export interface OrderCreated {
  id: string;
  version: number;
  status: string;
  userId: string;
  /** Major units, as the orders service sends it. */
  price: number;
  currency: string;
}

/** Keeps the local copy of orders that payments are checked against. Redelivery and duplicates change nothing. */
export function createOrderEvents(orders: Orders) {
  return {
    async created(e: OrderCreated): Promise<'inserted' | 'duplicate'> {
      const { amount, currency } = toMinorUnits(e.price, e.currency);
      const order = { id: e.id, version: e.version, status: e.status, userId: e.userId, amount, currency, attempt: 0 };
      return (await orders.add(order)) ? 'inserted' : 'duplicate';
    },

    /**
     * A cancel is final, whatever version it carries (the ticketing orders service sends
     * version 0 when a user cancels). One for an order not seen yet waits for it.
     */
    async cancelled(e: { id: string; version: number }): Promise<'cancelled' | 'duplicate'> {
      const order = await orders.get(e.id);
      if (!order) throw new OutOfOrderError(`Order ${e.id} not seen yet`);
      if (order.status === 'cancelled') return 'duplicate';
      await orders.cancel(e.id, e.version);
      return 'cancelled';
    },
  };
}

export type OrderEvents = ReturnType<typeof createOrderEvents>;
