/** Payments not settled yet: a payment is stored here when it starts, and in `payments` once settled (db/payments.ts). */
export const PENDING_COLLECTION = 'payments_pending';

/** Every collection the service writes, and so everything a backup must hold for a restore to resume. */
export const COLLECTIONS = [
  // Read before the payments: a payment leaves it only once it is in the payments, so a
  // dump taken while one moves holds it in either collection, or in both (db/payments.ts).
  PENDING_COLLECTION,
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
/** Which replica's pass sends a stored message (db/outbox.ts): good for seconds, never in a backup. */
export const CLAIMS_COLLECTION = 'outbox_claims';
/** Not in a backup, and dropped by a restore. */
export const DERIVED = [DUE_COLLECTION, CLAIMS_COLLECTION] as const;
