import { Schema, Types, type Connection } from 'mongoose';
import type { OutboxEvent, Payment, PaymentStore } from '../domain/payment';
import { PAYMENT_STATUSES, type PaymentStatus } from '../domain/payment-status';

interface PaymentDoc {
  _id: Types.ObjectId;
  orderId: Types.ObjectId;
  userId: string;
  amount: number;
  currency: string;
  // The card token is kept so that a reconciler can retry the exact same charge request.
  source: string;
  status: PaymentStatus;
  stripeId: string | null;
  failureReason: string | null;
  idempotencyKey: string | null;
  history: { status: PaymentStatus; at: Date; reason?: string }[];
  events: OutboxEvent[];
  // Ids of events not yet published, with their count for an indexable query.
  unpublished: string[];
  unpublishedCount: number;
  leaseUntil: Date | null;
  attempts: number;
  createdAt: Date;
  updatedAt: Date;
}

const paymentSchema = new Schema<PaymentDoc>(
  {
    orderId: { type: Schema.Types.ObjectId, required: true, index: true },
    userId: { type: String, required: true, index: true },
    amount: { type: Number, required: true, validate: Number.isSafeInteger },
    currency: { type: String, required: true },
    source: { type: String, required: true },
    status: { type: String, enum: PAYMENT_STATUSES, required: true },
    stripeId: { type: String, default: null },
    failureReason: { type: String, default: null },
    idempotencyKey: { type: String, default: null },
    history: [{ _id: false, status: String, at: Date, reason: String }],
    events: [{ _id: false, id: String, subject: String, data: Schema.Types.Mixed, at: Date }],
    unpublished: { type: [String], default: [] },
    unpublishedCount: { type: Number, default: 0, index: true },
    leaseUntil: { type: Date, default: null },
    attempts: { type: Number, default: 0 },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'payments', versionKey: false },
);
paymentSchema.index({ status: 1, leaseUntil: 1 });

export function toPayment(d: PaymentDoc): Payment & { source: string } {
  return {
    id: d._id.toHexString(),
    orderId: d.orderId.toHexString(),
    userId: d.userId,
    amount: d.amount,
    currency: d.currency,
    source: d.source,
    status: d.status,
    stripeId: d.stripeId,
    failureReason: d.failureReason,
    idempotencyKey: d.idempotencyKey,
    history: d.history.map(({ status, at, reason }) => ({ status, at, ...(reason ? { reason } : {}) })),
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

export function createPaymentStore(conn: Connection) {
  const Payments = conn.model<PaymentDoc>('Payment', paymentSchema);
  const oid = (id: string) => new Types.ObjectId(id);

  const store: PaymentStore & {
    model: typeof Payments;
    unpublished(limit: number): Promise<{ paymentId: string; event: OutboxEvent }[]>;
    markPublished(paymentId: string, eventId: string): Promise<void>;
    outboxBacklog(): Promise<number>;
    oldestPending(): Promise<Date | null>;
  } = {
    model: Payments,

    async insertPending(p, at, leaseUntil) {
      const doc = await Payments.create({
        ...p,
        orderId: oid(p.orderId),
        status: 'pending',
        history: [{ status: 'pending', at }],
        leaseUntil,
        createdAt: at,
        updatedAt: at,
      });
      return toPayment(doc.toObject());
    },

    async remove(id) {
      await Payments.deleteOne({ _id: oid(id), status: 'pending' });
    },

    async findById(id) {
      if (!Types.ObjectId.isValid(id)) return null;
      const d = await Payments.findById(oid(id)).lean<PaymentDoc>();
      return d ? toPayment(d) : null;
    },

    async settle(id, c) {
      const set: Partial<PaymentDoc> = { status: c.to, updatedAt: c.at, leaseUntil: null };
      if (c.stripeId !== undefined) set.stripeId = c.stripeId;
      if (c.failureReason !== undefined) set.failureReason = c.failureReason;
      const d = await Payments.findOneAndUpdate(
        { _id: oid(id), status: c.from },
        {
          $set: set,
          $push: {
            history: { status: c.to, at: c.at, ...(c.reason ? { reason: c.reason } : {}) },
            events: c.event,
            unpublished: c.event.id,
          },
          $inc: { unpublishedCount: 1 },
        },
        { new: true },
      ).lean<PaymentDoc>();
      return d ? toPayment(d) : null;
    },

    async leaseStale(now, leaseUntil) {
      const d = await Payments.findOneAndUpdate(
        { status: 'pending', leaseUntil: { $lt: now } },
        { $set: { leaseUntil }, $inc: { attempts: 1 } },
        { new: true, sort: { leaseUntil: 1 } },
      ).lean<PaymentDoc>();
      return d ? toPayment(d) : null;
    },

    async unpublished(limit) {
      const docs = await Payments.find({ unpublishedCount: { $gt: 0 } })
        .sort({ updatedAt: 1 })
        .limit(limit)
        .lean<PaymentDoc[]>();
      return docs.flatMap((d) =>
        d.events
          .filter((e) => d.unpublished.includes(e.id))
          .map((event) => ({ paymentId: d._id.toHexString(), event })),
      );
    },

    async markPublished(paymentId, eventId) {
      // The filter on the id makes the decrement happen once even when two relays race.
      await Payments.updateOne(
        { _id: oid(paymentId), unpublished: eventId },
        { $pull: { unpublished: eventId }, $inc: { unpublishedCount: -1 } },
      );
    },

    async outboxBacklog() {
      const r = await Payments.aggregate<{ n: number }>([
        { $match: { unpublishedCount: { $gt: 0 } } },
        { $group: { _id: null, n: { $sum: '$unpublishedCount' } } },
      ]);
      return r[0]?.n ?? 0;
    },

    async oldestPending() {
      const d = await Payments.findOne({ status: 'pending' }).sort({ createdAt: 1 }).lean<PaymentDoc>();
      return d ? d.createdAt : null;
    },
  };
  return store;
}

export type PaymentStoreAdapter = ReturnType<typeof createPaymentStore>;
