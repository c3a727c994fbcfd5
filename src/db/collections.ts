/** Every collection the service writes, and so everything a backup must hold for a restore to resume. */
export const COLLECTIONS = [
  'payments',
  'payment_changes',
  'orders',
  'outbox',
  'dead_letters',
  'idempotency_keys',
  'provider_events',
] as const;
export type CollectionName = (typeof COLLECTIONS)[number];
