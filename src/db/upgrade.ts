import mongoose from 'mongoose';
import type { Clock } from '../domain/ports';
import type { Logger } from '../log';

type Doc = mongoose.mongo.Document;

/** Where the version before fixed payment ids kept its one-payment-per-order claim. */
const LEGACY_CLAIM_INDEX = 'claim_1';

/**
 * Brings data written by the previous version (before payments had ids fixed by
 * their order and a record per change) up to date, once, at start:
 * - each of its payments gets a version, `chargeId` from `stripeId`, a due time if
 *   still pending, and loses its card token if settled;
 * - an order such a payment holds (pending or succeeded) is marked paid by it, so
 *   that no second payment is taken for it;
 * - an event its outbox had not published yet is stored in the new outbox;
 * - the unique index on `claim` goes last (new payments carry no claim): with it
 *   gone, a later start has nothing to do.
 */
export async function upgradeLegacyData(db: mongoose.mongo.Db, clock: Clock, log: Logger): Promise<void> {
  const payments = db.collection('payments');
  const indexes = await payments.indexes().catch(() => []);
  if (!indexes.some((i) => i.name === LEGACY_CLAIM_INDEX)) return;
  const now = clock.now();

  const legacy = await payments.find({ version: { $exists: false } }).toArray();
  for (const p of legacy) {
    const pending = p.status === 'pending';
    const history = (p.history as Doc[] | undefined) ?? [];
    await payments.updateOne(
      { _id: p._id },
      {
        $set: {
          version: Math.max(history.length - 1, 0),
          chargeId: (p.stripeId as string | null | undefined) ?? null,
          amountRefunded: 0,
          refunds: [],
          requestKey: null,
          dueAt: pending ? ((p.leaseUntil as Date | null | undefined) ?? now) : null,
        },
        ...(pending ? {} : { $unset: { source: '' } }),
      },
    );
    if (pending || p.status === 'succeeded') {
      await db.collection('orders').updateOne({ _id: p.orderId }, { $set: { paidBy: p._id.toHexString() } });
    }
  }

  const outbox = db.collection('outbox');
  for (const entry of await outbox.find({ destination: { $exists: false } }).toArray()) {
    const p = await payments.findOne({ _id: entry.paymentId });
    const event = (p?.events as Doc[] | undefined)?.find((e) => e.id === entry._id);
    const unpublished = (p?.unpublished as string[] | undefined)?.includes(String(entry._id));
    if (p && event && unpublished) {
      await outbox
        .insertOne({
          _id: `bus:${event.id}` as never,
          messageId: event.id,
          destination: 'bus',
          subject: event.subject,
          key: p.orderId.toHexString(),
          payload: event.data,
          attempts: 0,
          nextAttemptAt: now,
          createdAt: event.at ?? now,
        })
        .catch((err: unknown) => {
          if ((err as { code?: number }).code !== 11000) throw err;
        });
    }
    await outbox.deleteOne({ _id: entry._id });
  }

  // Another replica starting at the same time may have dropped it first.
  await payments.dropIndex(LEGACY_CLAIM_INDEX).catch((err: unknown) => {
    if ((err as { codeName?: string }).codeName !== 'IndexNotFound') throw err;
  });
  log.warn({ payments: legacy.length }, 'upgraded the data of the previous version');
}
