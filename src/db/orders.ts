import { Schema, Types, type Connection } from 'mongoose';
import type { Order, Orders } from '../domain/ports';
import { findById, insertOnce, laneOf, updateById } from './writes';

interface OrderDoc extends Omit<Order, 'id' | 'arrived'> {
  _id: Types.ObjectId;
  /** Set on a stand-in only (Order.arrived false). */
  standIn?: true;
}

const orderSchema = new Schema<OrderDoc>(
  {
    _id: { type: Schema.Types.ObjectId, required: true },
    // The version comes from the orders service's events, never from mongoose.
    version: { type: Number, required: true },
    status: { type: String, required: true },
    userId: { type: String, required: true },
    amount: { type: Number, required: true },
    currency: { type: String, required: true },
    paidBy: { type: String, default: null },
    standIn: { type: Boolean },
  },
  { collection: 'orders', versionKey: false },
);

/** The local copy of orders, addressed by _id alone. */
export function createOrderStore(conn: Connection) {
  const Model = conn.model<OrderDoc>('Order', orderSchema);
  const orders = conn.getClient().db(conn.name).collection('orders');
  const lane = laneOf(conn);
  const insert = insertOnce(orders, lane);
  const update = updateById(orders, lane);

  const store: Orders & { init(): Promise<void> } = {
    init: async () => void (await Model.init()),
    async get(id) {
      if (!Types.ObjectId.isValid(id)) return null;
      const d = await findById<OrderDoc>(orders, new Types.ObjectId(id));
      if (!d) return null;
      // An `attempt` written by versions before is left out: a payment tries its order's attempts from the first.
      const { _id, version, status, userId, amount, currency, paidBy, standIn } = d;
      return {
        id: _id.toHexString(),
        version,
        status,
        userId,
        amount,
        currency,
        paidBy: paidBy ?? null,
        arrived: !standIn,
      };
    },
    add: ({ id, arrived, ...rest }) =>
      insert({ ...rest, _id: new Types.ObjectId(id), ...(!arrived && { standIn: true }) }),
    async arrive({ id, userId, amount, currency }) {
      await update(new Types.ObjectId(id), { $set: { userId, amount, currency }, $unset: { standIn: '' } });
    },
    async cancel(id, version) {
      await update(new Types.ObjectId(id), { $set: { status: 'cancelled' }, $max: { version } });
    },
    async paid(id, paymentId) {
      await update(new Types.ObjectId(id), { $set: { paidBy: paymentId } });
    },
  };
  return store;
}

export type OrderStore = ReturnType<typeof createOrderStore>;
