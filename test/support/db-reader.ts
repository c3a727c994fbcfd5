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
    payments: (orderId: string) =>
      db
        .collection('payments')
        .find({ orderId: new Types.ObjectId(orderId) })
        .toArray(),
    backlog: () => db.collection('outbox').countDocuments(),
    close: () => conn.close(),
  };
}
export type DbReader = Awaited<ReturnType<typeof readDb>>;
