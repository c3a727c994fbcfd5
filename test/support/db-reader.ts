import mongoose, { Types } from 'mongoose';

/**
 * Reads what a service running as its own process wrote, straight from its
 * database, as an operator with a shell would: for tests that kill the process.
 */
export async function readDb(name: string) {
  const conn = await mongoose.createConnection(`${process.env.TEST_MONGO_URI}/${name}`).asPromise();
  const db = conn.getClient().db(name);
  return {
    order: (id: string) => db.collection('orders').findOne({ _id: new Types.ObjectId(id) }),
    /** Settled first: a payment being stored may be in both for a moment. */
    async payments(orderId: string) {
      const query = { orderId: new Types.ObjectId(orderId) };
      const settled = await db.collection('payments').find(query).toArray();
      const pending = await db.collection('payments_pending').find(query).toArray();
      const ids = new Set(settled.map((p) => String(p._id)));
      return [...settled, ...pending.filter((p) => !ids.has(String(p._id)))];
    },
    backlog: () => db.collection('outbox').countDocuments(),
    /** A payment as stored in `collection` (`payments` once settled, `payments_pending` while pending). */
    payment: (collection: 'payments' | 'payments_pending', id: string) =>
      db.collection(collection).findOne({ _id: new Types.ObjectId(id) }),
    close: () => conn.close(),
  };
}
export type DbReader = Awaited<ReturnType<typeof readDb>>;
