/** Every collection the service writes, and so everything a backup must hold for a restore to resume. */
export const COLLECTIONS = [
  'payments',
  'payment_changes',
  'orders',
  'outbox',
  // Read after the outbox: a message that dies while a dump is taken is in one of the two, or both.
  'dead_deliveries',
  'dead_letters',
  'idempotency_keys',
  'provider_events',
] as const;
export type CollectionName = (typeof COLLECTIONS)[number];
