/**
 * Error categories of the domain. Each carries a stable `code` that clients can
 * rely on; http/errors.ts maps categories to HTTP statuses in one table.
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  constructor(
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Thrown when a referenced order or payment does not exist. */
export class NotFoundError extends DomainError {
  override name = 'NotFoundError';
  readonly code = 'not_found';
}

/** Thrown when the caller may not act on the resource (another user's order). */
export class NotAuthorizedError extends DomainError {
  override name = 'NotAuthorizedError';
  readonly code = 'not_authorized';
}

/** Thrown when a request is well-formed but breaks a payment rule. */
export class InvalidInputError extends DomainError {
  override name = 'InvalidInputError';
  constructor(
    message: string,
    field?: string,
    readonly code: string = 'invalid_input',
  ) {
    super(message, field);
  }
}

/** Thrown when the request collides with the current state (order already paid, key in use). */
export class ConflictError extends DomainError {
  override name = 'ConflictError';
  constructor(
    message: string,
    readonly code: string = 'conflict',
  ) {
    super(message);
  }
}

/** Thrown when the same idempotency key is reused with a different request. */
export class IdempotencyMismatchError extends DomainError {
  override name = 'IdempotencyMismatchError';
  readonly code = 'idempotency_key_reused';
}

/** Thrown when the provider refused the money to move: a card declined, a refund refused. */
export class DeclinedError extends DomainError {
  override name = 'DeclinedError';
  readonly code: string;
  /** The provider's reason, when it gave one: `insufficient_funds`, `authentication_required`... */
  readonly declineCode: string | undefined;
  constructor(message: string, field?: string, options?: { cause?: unknown; code?: string; declineCode?: string }) {
    super(message, field, options);
    this.code = options?.code ?? 'card_declined';
    this.declineCode = options?.declineCode;
  }
}

/** Thrown when the payment provider cannot be reached or fails; the payment stays pending. */
export class UpstreamUnavailableError extends DomainError {
  override name = 'UpstreamUnavailableError';
  readonly code = 'provider_unavailable';
}

/** Thrown when an event arrives before the one it follows; redelivery brings it back in order. */
export class OutOfOrderError extends DomainError {
  override name = 'OutOfOrderError';
  readonly code = 'out_of_order';
}
