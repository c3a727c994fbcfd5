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

/**
 * Derived from the collections above, so not in a backup: the service lists what is
 * pending (db/due.ts) from the payments at its next start once a restore dropped it.
 */
export const DUE_COLLECTION = 'payments_due';
export const DERIVED = [DUE_COLLECTION] as const;
