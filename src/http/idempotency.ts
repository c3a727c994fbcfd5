import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { IdempotencyStore } from '../db/idempotency';
import type { Clock } from '../domain/ports';
import { ConflictError, IdempotencyMismatchError } from '../domain/errors';
import { RequestError, toHttpResponse, type HttpResponse } from './errors';

const MAX_KEY_LENGTH = 255;

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * The route a request reached, spelled one way: Express matches paths whatever their case and
 * with a trailing slash, and the ids in them (ObjectIds) whatever the case of their hex. A retry
 * spelled otherwise is the same request. (A request spelled so was keyed so before.)
 */
function routeOf(req: Request): string {
  const path = (req.route as { path: string }).path.replace(/:(\w+)/g, (_, name: string) =>
    String(req.params[name]).toLowerCase(),
  );
  return `${req.baseUrl.toLowerCase()}${path}`;
}

function fingerprint(req: Request): string {
  return createHash('sha256')
    .update(`${req.method} ${routeOf(req)}\n${JSON.stringify(canonical(req.body ?? null))}`)
    .digest('hex');
}

/**
 * Runs `handler` at most once per (user, Idempotency-Key), after the semantics
 * of Stripe's API and the IETF draft: a repeat replays the first answer, the
 * same key with another body is refused (422), and a key whose first request
 * is still running answers 409. Answers of 5xx are not kept, so the client may retry.
 */
export function idempotent(
  store: IdempotencyStore,
  clock: Clock,
  /** `requestKey` names the request (user, key and body) when it carries a key: a retry of it gets the same. */
  handler: (req: Request, requestKey: string | null) => Promise<HttpResponse>,
): RequestHandler {
  return async (req, res) => {
    const send = ({ status, body }: HttpResponse) => res.status(status).json(body);
    const key = req.get('idempotency-key');
    if (key === undefined) {
      send(await handler(req, null));
      return;
    }
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new RequestError(400, [
        {
          message: `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} characters`,
          field: 'Idempotency-Key',
          code: 'invalid_idempotency_key',
        },
      ]);
    }
    const id = `${req.currentUser?.id ?? 'anonymous'}:${req.method}:${routeOf(req)}:${key}`;
    const hash = fingerprint(req);
    const begun = await store.begin(id, hash, clock.now());
    if (begun.kind === 'mismatch') {
      throw new IdempotencyMismatchError('This Idempotency-Key was used with a different request');
    }
    if (begun.kind === 'in_flight') {
      throw new ConflictError('A request with this Idempotency-Key is in progress', 'idempotency_key_in_use');
    }
    if (begun.kind === 'replay') {
      res.setHeader('Idempotent-Replayed', 'true');
      send(begun);
      return;
    }
    let result: HttpResponse;
    try {
      result = await handler(req, createHash('sha256').update(`${id}\n${hash}`).digest('hex'));
    } catch (err) {
      result = toHttpResponse(err, req.log);
    }
    if (result.status >= 500) await store.release(id, clock.now());
    else await store.complete(id, result.status, result.body);
    send(result);
  };
}
