import { Schema, Types, type Connection } from 'mongoose';
import type { OutboxEvent, Payment, PaymentStore } from '../domain/payment';
import { PAYMENT_STATUSES, type PaymentStatus } from '../domain/payment-status';
import { insertOnce } from './connect';

interface PaymentDoc {
  _id: Types.ObjectId;
  orderId: Types.ObjectId;
  userId: string;
  // The order id while this payment holds the order (pending, succeeded); unique, so
  // that one insert decides which payment an order gets, on MongoDB and FerretDB alike.
  claim: string;
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
  // Ids of events not yet published.
  unpublished: string[];
  leaseUntil: Date | null;
  attempts: number;
  createdAt: Date;
  updatedAt: Date;
}

const paymentSchema = new Schema<PaymentDoc>(
  {
    orderId: { type: Schema.Types.ObjectId, required: true, index: true },
    userId: { type: String, required: true, index: true },
    claim: { type: String, required: true, unique: true },
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
    leaseUntil: { type: Date, default: null },
    attempts: { type: Number, default: 0 },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'payments', versionKey: false },
);
paymentSchema.index({ status: 1, leaseUntil: 1 });

// A claim is won by inserting its key first (see insertOnce); `at` lets old claims be swept.
interface ClaimDoc {
  _id: string;
  at: Date;
}
const claimSchema = (collection: string) =>
  new Schema<ClaimDoc>(
    { _id: { type: String, required: true }, at: { type: Date, required: true, index: true } },
    { collection, versionKey: false },
  );
// One claim per (payment, attempt): which reconciler settles a stale payment.
const leaseSchema = claimSchema('payment_leases');

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

// One claim per event: which relay publishes it; a claim left by a dead relay expires.
const eventClaimSchema = claimSchema('outbox_claims');

// Where the relay looks for work: one small document per event, written just
// before the state change that carries the event. Without it the relay would
// scan every payment (FerretDB v1 uses no secondary index for such queries).
// The event itself lives in the payment, written with its state change.
interface OutboxEntryDoc {
  _id: string;
  paymentId: Types.ObjectId;
  at: Date;
}
const outboxEntrySchema = new Schema<OutboxEntryDoc>(
  {
    _id: { type: String, required: true },
    paymentId: { type: Schema.Types.ObjectId, required: true },
    at: { type: Date, required: true },
  },
  { collection: 'outbox', versionKey: false },
);
// An entry whose event never appeared (the write it announced did not happen) is dropped after this.
const ORPHAN_ENTRY_MS = 60 * 60 * 1000;

export function createPaymentStore(conn: Connection) {
  const Outbox = conn.model<OutboxEntryDoc>('OutboxEntry', outboxEntrySchema);
  const EventClaims = conn.model<ClaimDoc>('OutboxClaim', eventClaimSchema);
  const Payments = conn.model<PaymentDoc>('Payment', paymentSchema);
  const Leases = conn.model<ClaimDoc>('PaymentLease', leaseSchema);
  const oid = (id: string) => new Types.ObjectId(id);

  const store: PaymentStore & {
    model: typeof Payments;
    outbox: typeof Outbox;
    leases: typeof Leases;
    unpublished(limit: number): Promise<{ paymentId: string; event: OutboxEvent }[]>;
    markPublished(paymentId: string, eventId: string): Promise<void>;
    claimEvent(eventId: string, now: Date, expireMs: number): Promise<boolean>;
    releaseEvent(eventId: string): Promise<void>;
    sweepClaims(before: Date): Promise<void>;
    outboxBacklog(): Promise<number>;
    oldestPending(): Promise<Date | null>;
  } = {
    model: Payments,
    leases: Leases,
    outbox: Outbox,

    async insertPending(p, at, leaseUntil) {
      const doc: PaymentDoc = {
        ...p,
        _id: new Types.ObjectId(),
        orderId: oid(p.orderId),
        claim: p.orderId,
        status: 'pending',
        stripeId: null,
        failureReason: null,
        history: [{ status: 'pending', at }],
        events: [],
        unpublished: [],
        leaseUntil,
        attempts: 0,
        createdAt: at,
        updatedAt: at,
      };
      return (await insertOnce(Payments, doc)) ? toPayment(doc) : null;
    },

    async findById(id) {
      if (!Types.ObjectId.isValid(id)) return null;
      const d = await Payments.findById(oid(id)).lean<PaymentDoc>();
      return d ? toPayment(d) : null;
    },

    async settle(id, c) {
      await insertOnce(Outbox, { _id: c.event.id, paymentId: oid(id), at: c.at });
      const set: Partial<PaymentDoc> = { status: c.to, updatedAt: c.at, leaseUntil: null };
      if (c.stripeId !== undefined) set.stripeId = c.stripeId;
      if (c.failureReason !== undefined) set.failureReason = c.failureReason;
      if (c.releaseOrder) set.claim = `released:${id}`;
      const d = await Payments.findOneAndUpdate(
        { _id: oid(id), status: c.from },
        {
          $set: set,
          $push: {
            history: { status: c.to, at: c.at, ...(c.reason ? { reason: c.reason } : {}) },
            events: c.event,
            unpublished: c.event.id,
          },
        },
        { new: true },
      ).lean<PaymentDoc>();
      return d ? toPayment(d) : null;
    },

    async leaseStale(now, leaseUntil) {
      const stale = await Payments.find({ status: 'pending', leaseUntil: { $lt: now } })
        .sort({ leaseUntil: 1 })
        .limit(20)
        .lean<PaymentDoc[]>();
      for (const d of stale) {
        const attempt = d.attempts + 1;
        if (!(await insertOnce(Leases, { _id: `${d._id.toHexString()}:${attempt}`, at: now }))) continue;
        await Payments.updateOne({ _id: d._id }, { $set: { leaseUntil, attempts: attempt } });
        return toPayment({ ...d, leaseUntil, attempts: attempt });
      }
      return null;
    },

    async sweepClaims(before: Date) {
      await Leases.deleteMany({ at: { $lt: before } });
      await EventClaims.deleteMany({ at: { $lt: before } });
    },

    async claimEvent(eventId, now, expireMs) {
      for (let tries = 0; tries < 2; tries++) {
        if (await insertOnce(EventClaims, { _id: eventId, at: now })) return true;
        const held = await EventClaims.findById(eventId).lean<ClaimDoc>();
        if (held && held.at.getTime() > now.getTime() - expireMs) return false;
        if (held) await EventClaims.deleteOne({ _id: eventId, at: held.at });
      }
      return false;
    },

    async releaseEvent(eventId) {
      await EventClaims.deleteOne({ _id: eventId });
    },

    async unpublished(limit) {
      const entries = await Outbox.find().sort({ at: 1 }).limit(limit).lean<OutboxEntryDoc[]>();
      const found: { paymentId: string; event: OutboxEvent }[] = [];
      const now = Date.now();
      for (const entry of entries) {
        const d = await Payments.findById(entry.paymentId).lean<PaymentDoc>();
        const event = d?.events.find((e) => e.id === entry._id);
        if (d && event && d.unpublished.includes(event.id)) {
          found.push({ paymentId: d._id.toHexString(), event });
        } else if (event || now - entry.at.getTime() > ORPHAN_ENTRY_MS) {
          await Outbox.deleteOne({ _id: entry._id });
        }
      }
      return found;
    },

    async markPublished(paymentId, eventId) {
      // $pull is idempotent: two relays marking the same event leave the same document.
      await Payments.updateOne({ _id: oid(paymentId) }, { $pull: { unpublished: eventId } });
      await Outbox.deleteOne({ _id: eventId });
    },

    async outboxBacklog() {
      return Outbox.countDocuments();
    },

    async oldestPending() {
      const d = await Payments.findOne({ status: 'pending' }).sort({ createdAt: 1 }).lean<PaymentDoc>();
      return d ? d.createdAt : null;
    },
  };
  return store;
}

export type PaymentStoreAdapter = ReturnType<typeof createPaymentStore>;
