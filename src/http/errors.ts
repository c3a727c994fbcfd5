import type { ErrorRequestHandler, RequestHandler } from 'express';
import {
  ConflictError,
  DeclinedError,
  DomainError,
  IdempotencyMismatchError,
  InvalidInputError,
  NotAuthorizedError,
  NotFoundError,
  UpstreamUnavailableError,
} from '../domain/errors';
import type { Logger } from '../log';

/** The ticketing error shape, shared with every other service of the system. */
export interface ErrorBody {
  errors: { message: string; field?: string; code?: string }[];
}
export interface HttpResponse {
  status: number;
  body: unknown;
}

/** An HTTP-level refusal before the domain is reached (bad body, unknown route). */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    readonly status: number,
    readonly errors: ErrorBody['errors'],
  ) {
    super(errors.map((e) => e.message).join('; '));
  }
}

// The one place where domain error categories meet HTTP statuses.
const STATUS_BY_CATEGORY: [abstract new (...args: never[]) => DomainError, number][] = [
  [InvalidInputError, 400],
  [NotAuthorizedError, 401],
  [DeclinedError, 402],
  [NotFoundError, 404],
  [ConflictError, 409],
  [IdempotencyMismatchError, 422],
  [UpstreamUnavailableError, 503],
];

interface BodyParserError {
  type?: string;
  status?: number;
}

export function toHttpResponse(err: unknown, log: Logger): HttpResponse {
  if (err instanceof RequestError) return { status: err.status, body: { errors: err.errors } };
  if (err instanceof DomainError) {
    const status = STATUS_BY_CATEGORY.find(([category]) => err instanceof category)?.[1] ?? 500;
    if (status >= 500) log.warn({ err }, 'request failed upstream');
    const e = { message: err.message, code: err.code, ...(err.field ? { field: err.field } : {}) };
    return { status, body: { errors: [e] } };
  }
  const parserError = err as BodyParserError;
  if (parserError?.type === 'entity.parse.failed') {
    return { status: 400, body: { errors: [{ message: 'Malformed JSON body', code: 'malformed_json' }] } };
  }
  if (parserError?.type === 'entity.too.large') {
    return { status: 413, body: { errors: [{ message: 'Request body too large', code: 'body_too_large' }] } };
  }
  if (typeof parserError?.status === 'number' && parserError.status >= 400 && parserError.status < 500) {
    return { status: parserError.status, body: { errors: [{ message: 'Bad request', code: 'bad_request' }] } };
  }
  log.error({ err }, 'unhandled error');
  return { status: 500, body: { errors: [{ message: 'Something went wrong', code: 'internal' }] } };
}

export const notFound: RequestHandler = () => {
  throw new RequestError(404, [{ message: 'Not found', code: 'route_not_found' }]);
};

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const { status, body } = toHttpResponse(err, req.log);
  res.status(status).json(body);
};
