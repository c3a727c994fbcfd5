import type { RequestHandler } from 'express';
import { validationResult, type ValidationChain } from 'express-validator';
import { RequestError } from './errors';

/** Runs the chains and refuses the request with one error per field. */
export function validate(chains: ValidationChain[]): RequestHandler {
  return async (req, _res, next) => {
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
