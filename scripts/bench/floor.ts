import mongoose from 'mongoose';
import Stripe from 'stripe';
import type { BusServer } from '../../test/support/servers';
import { connectFloorBus } from './floor-bus';

/**
 * The bare sequence of the stack, with the same drivers on the same servers:
 * what no payments service can beat. Payments: read the order by id, charge
 * stripe-mock, insert a payment, publish payment:created and await its ack.
 * Replication: consume order:created and insert each order.
 */
export interface Floor {
  pay(orderId: string): Promise<void>;
  /** Consumes `count` messages of `subject` and inserts each; resolves when all are stored. */
  replicate(subject: string, count: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFloor(opts: { mongoUri: string; bus: BusServer; stripeUrl: string }): Promise<Floor> {
  const conn = await mongoose.createConnection(opts.mongoUri).asPromise();
  const db = conn.getClient().db(conn.name);
  const orders = db.collection('orders');
  const payments = db.collection('floor_payments');
  const replicas = db.collection('floor_orders');
  const url = new URL(opts.stripeUrl);
  const stripe = new Stripe('sk_test_floor', { host: url.hostname, port: Number(url.port), protocol: 'http' });
  const bus = await connectFloorBus(opts.bus);

  return {
    async pay(orderId) {
      const order = await orders.findOne({ _id: new mongoose.Types.ObjectId(orderId) });
      if (!order) throw new Error(`floor: no order ${orderId}`);
      const paymentId = new mongoose.Types.ObjectId();
      const charge = await stripe.charges.create(
        { amount: order.amount as number, currency: order.currency as string, source: 'tok_visa' },
        { idempotencyKey: `floor-${paymentId.toHexString()}` },
      );
      await payments.insertOne({ _id: paymentId, orderId: order._id, amount: order.amount, stripeId: charge.id });
      await bus.publish('floor:payment:created', JSON.stringify({ id: paymentId, orderId, stripeId: charge.id }));
    },
    replicate(subject, count) {
      return new Promise((resolve, reject) => {
        let stored = 0;
        bus.consume(subject, async (data) => {
          const e = JSON.parse(data) as { id: string; version: number; userId: string };
          await replicas
            .insertOne({ _id: new mongoose.Types.ObjectId(e.id), version: e.version, userId: e.userId })
            .then(() => {
              if (++stored === count) resolve();
            }, reject);
        });
      });
    },
    async close() {
      await bus.close();
      await conn.close();
    },
  };
}
