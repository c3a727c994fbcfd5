import { Schema, type Connection } from 'mongoose';
import { findById, insertOnce, laneOf } from './writes';

interface ProviderEventDoc {
  /** The provider's event id: the provider sends an event again until it is answered 2xx. */
  _id: string;
  type: string;
  outcome: string;
  receivedAt: Date;
}

const schema = new Schema<ProviderEventDoc>(
  {
    _id: { type: String, required: true },
    type: { type: String, required: true },
    outcome: { type: String, required: true },
    receivedAt: { type: Date, required: true },
  },
  { collection: 'provider_events', versionKey: false },
);
schema.index({ receivedAt: 1 });

// Stripe sends an event again for up to three days; a week covers it.
const KEEP_MS = 7 * 24 * 60 * 60 * 1000;

/** The provider's events already handled, so that a repeat is answered without handling it again. */
export function createProviderEventStore(conn: Connection) {
  const Model = conn.model<ProviderEventDoc>('ProviderEvent', schema);
  const col = conn.getClient().db(conn.name).collection('provider_events');
  const insert = insertOnce(col, laneOf(conn));
  return {
    init: async () => void (await Model.init()),
    async handled(id: string): Promise<boolean> {
      return (await findById<ProviderEventDoc>(col, id)) !== null;
    },
    async remember(id: string, type: string, outcome: string, at: Date): Promise<void> {
      await insert({ _id: id, type, outcome, receivedAt: at });
    },
    async sweep(now: Date): Promise<number> {
      return (await col.deleteMany({ receivedAt: { $lte: new Date(now.getTime() - KEEP_MS) } })).deletedCount;
    },
  };
}

export type ProviderEventStore = ReturnType<typeof createProviderEventStore>;
