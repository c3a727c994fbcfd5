import { Schema, Types, type Connection } from 'mongoose';
import type { Order, OrderStore } from '../domain/payment';
import { insertOnce } from './connect';

interface OrderDoc {
  _id: Types.ObjectId;
  version: number;
  status: string;
  userId: string;
  amount: number;
  currency: string;
}

const orderSchema = new Schema<OrderDoc>(
  {
    _id: { type: Schema.Types.ObjectId, required: true },
    version: { type: Number, required: true },
    status: { type: String, required: true },
    userId: { type: String, required: true },
    amount: { type: Number, required: true },
    currency: { type: String, required: true },
  },
  // The version comes from the orders service's events, never from mongoose.
  { collection: 'orders', versionKey: false, timestamps: true },
);

function toOrder(d: OrderDoc): Order {
  return {
    id: d._id.toHexString(),
    version: d.version,
    status: d.status,
    userId: d.userId,
    amount: d.amount,
    currency: d.currency,
  };
}

export function createOrderStore(conn: Connection) {
  const Orders = conn.model<OrderDoc>('Order', orderSchema);
  const oid = (id: string) => new Types.ObjectId(id);
  const store: OrderStore & { model: typeof Orders } = {
    model: Orders,
    async findById(id) {
      const d = await Orders.findById(oid(id)).lean<OrderDoc>();
      return d ? toOrder(d) : null;
    },
    async insert(o) {
      return (await insertOnce(Orders, { ...o, _id: oid(o.id) })) ? 'inserted' : 'duplicate';
    },
    async cancel(id, version) {
      const r = await Orders.updateOne(
        { _id: oid(id), version: version - 1 },
        { $set: { status: 'cancelled', version } },
      );
      return r.modifiedCount === 1;
    },
  };
  return store;
}
