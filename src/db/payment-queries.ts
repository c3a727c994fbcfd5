import mongoose, { Types, type Connection } from 'mongoose';
import type { Payment, PaymentStatus } from '../domain/payment';
import { PENDING_COLLECTION } from './collections';
import { toPayment, type PaymentDoc } from './payments';

export interface PaymentFilter {
  userId?: string;
  orderId?: string;
  status?: PaymentStatus;
  created?: { gt?: Date; gte?: Date; lt?: Date; lte?: Date };
}

export interface PageRequest {
  limit: number;
  /** A payment id: the page holds older payments than it. */
  startingAfter?: string;
  /** A payment id: the page holds newer payments than it. */
  endingBefore?: string;
}

type Query = mongoose.mongo.Filter<mongoose.mongo.Document>;

// Oldest first, as { createdAt: 1, _id: 1 } sorts (ObjectId hex strings sort as the ids do).
const newestLast = (a: PaymentDoc, b: PaymentDoc) =>
  a.createdAt.getTime() - b.createdAt.getTime() || a._id.toHexString().localeCompare(b._id.toHexString());

/**
 * Lists of payments, newest first (createdAt, then _id), in pages that continue
 * from a payment, as Stripe's lists do. MongoDB answers each filter from an index
 * declared on the payments schema; FerretDB v1 reads the collection to answer.
 * Payments not settled yet are in the pending ones (db/payments.ts): each page
 * asks both, with the same query.
 */
export function createPaymentQueries(conn: Connection, load: (id: string) => Promise<Payment | null>) {
  const db = conn.getClient().db(conn.name);
  const pending = db.collection(PENDING_COLLECTION);
  const payments = db.collection('payments');
  const stored = async (_id: Types.ObjectId) => (await payments.findOne({ _id })) as PaymentDoc | null;

  return {
    /** Null when `cursor` is not a payment that the filter could list. */
    async page(filter: PaymentFilter, page: PageRequest): Promise<{ data: Payment[]; hasMore: boolean } | null> {
      const where: Query[] = [];
      if (filter.userId) where.push({ userId: filter.userId });
      if (filter.orderId) where.push({ orderId: new Types.ObjectId(filter.orderId) });
      if (filter.status) where.push({ status: filter.status });
      const c = filter.created;
      if (c) {
        const range = {
          ...(c.gt && { $gt: c.gt }),
          ...(c.gte && { $gte: c.gte }),
          ...(c.lt && { $lt: c.lt }),
          ...(c.lte && { $lte: c.lte }),
        };
        if (Object.keys(range).length > 0) where.push({ createdAt: range });
      }
      const cursorId = page.startingAfter ?? page.endingBefore;
      const newer = page.endingBefore !== undefined;
      if (cursorId !== undefined) {
        const _id = new Types.ObjectId(cursorId);
        const cursor = (await stored(_id)) ?? ((await pending.findOne({ _id })) as PaymentDoc | null);
        if (!cursor || (filter.userId && cursor.userId !== filter.userId)) return null;
        const [op, at] = newer ? (['$gt', cursor.createdAt] as const) : (['$lt', cursor.createdAt] as const);
        where.push({ $or: [{ createdAt: { [op]: at } }, { createdAt: at, _id: { [op]: cursor._id } }] });
      }
      const order = newer ? 1 : -1;
      const query = where.length === 0 ? {} : where.length === 1 ? (where[0] as Query) : { $and: where };
      const find = async (c: typeof payments) =>
        (await c
          .find(query)
          .sort({ createdAt: order, _id: order })
          .limit(page.limit + 1)
          .toArray()) as unknown as PaymentDoc[];
      // In this order: a pending copy stays up to a second after its payment is stored
      // (db/due.ts), and a payment stored after it was read is in the payments read next.
      const unstored = await Promise.all((await find(pending)).map(async (d) => ((await stored(d._id)) ? null : d)));
      const byId = new Map(
        [...unstored.filter((d) => d !== null), ...(await find(payments))].map((d) => [d._id.toHexString(), d]),
      );
      const docs = [...byId.values()].sort((a, b) => order * newestLast(a, b)).slice(0, page.limit + 1);
      const hasMore = docs.length > page.limit;
      // A payment with something pending may have a change its stored copy has not caught up with yet.
      const data = await Promise.all(
        docs.slice(0, page.limit).map(async (d) => {
          const p = toPayment(d);
          return p.status === 'pending' || p.dueAt !== null ? ((await load(p.id)) ?? p) : p;
        }),
      );
      return { data: newer ? data.reverse() : data, hasMore };
    },
  };
}

export type PaymentQueries = ReturnType<typeof createPaymentQueries>;
