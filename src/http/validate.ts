import type { RequestHandler } from 'express';
import { validationResult, type ValidationChain } from 'express-validator';
import { RequestError } from './errors';

/**
 * Runs the chains and refuses the request with one error per field. A query parameter given
 * twice is refused too: express reads it as an array, which no filter or cursor here means.
 */
export function validate(chains: ValidationChain[]): RequestHandler {
  return async (req, _res, next) => {
    const repeated = Object.entries(req.query)
      .filter(([, value]) => typeof value !== 'string')
      .map(([field]) => ({ message: `${field} must be given once`, field, code: 'invalid_field' }));
    if (repeated.length > 0) throw new RequestError(400, repeated);
    for (const chain of chains) await chain.run(req);
    const result = validationResult(req);
    if (!result.isEmpty()) {
      const errors = result.array({ onlyFirstError: true }).map((e) => ({
        message: String(e.msg),
        ...(e.type === 'field' ? { field: e.path } : {}),
        code: 'invalid_field',
      }));
      throw new RequestError(400, errors);
    }
    next();
  };
}

/**
 * Refuses a body that is not JSON: express.json leaves it undefined, which a route whose fields
 * are all optional would take for `{}`; and a cross-site form can post text/plain with the cookie.
 */
export const jsonOnly: RequestHandler = (req, _res, next) => {
  if (!req.is('application/json')) {
    throw new RequestError(415, [
      { message: 'The body must be JSON (Content-Type: application/json)', code: 'unsupported_media_type' },
    ]);
  }
  next();
};
