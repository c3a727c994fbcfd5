import nats from 'node-nats-streaming';
import mongoose from 'mongoose';
import Stripe from 'stripe';

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

export async function startFloor(opts: {
  mongoUri: string;
  nats: { url: string; clusterId: string };
  stripeUrl: string;
}): Promise<Floor> {
  const conn = await mongoose.createConnection(opts.mongoUri).asPromise();
  const db = conn.getClient().db(conn.name);
  const orders = db.collection('orders');
  const payments = db.collection('floor_payments');
  const replicas = db.collection('floor_orders');
  const url = new URL(opts.stripeUrl);
  const stripe = new Stripe('sk_test_floor', { host: url.hostname, port: Number(url.port), protocol: 'http' });
  const stan = await new Promise<nats.Stan>((resolve, reject) => {
    const c = nats.connect(opts.nats.clusterId, `floor-${process.pid}`, { url: opts.nats.url, reconnect: false });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
  const publish = (subject: string, data: string) =>
    new Promise<void>((resolve, reject) => stan.publish(subject, data, (err) => (err ? reject(err) : resolve())));

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
      await publish('floor:payment:created', JSON.stringify({ id: paymentId, orderId, stripeId: charge.id }));
    },
    replicate(subject, count) {
      return new Promise((resolve, reject) => {
        let stored = 0;
        const opts = stan.subscriptionOptions().setManualAckMode(true).setDeliverAllAvailable().setMaxInFlight(1024);
        const sub = stan.subscribe(subject, opts);
        sub.on('message', (m: nats.Message) => {
          const e = JSON.parse(m.getData() as string) as { id: string; version: number; userId: string };
          replicas
            .insertOne({ _id: new mongoose.Types.ObjectId(e.id), version: e.version, userId: e.userId })
            .then(() => {
              m.ack();
              if (++stored === count) {
                sub.unsubscribe();
                resolve();
              }
            }, reject);
        });
      });
    },
    async close() {
      await new Promise<void>((resolve) => {
        stan.once('close', () => resolve());
        stan.close();
      });
      await conn.close();
    },
  };
}
