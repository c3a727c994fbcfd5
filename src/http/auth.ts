import { createSecretKey, type KeyObject } from 'node:crypto';
import type { RequestHandler } from 'express';
import jwt from 'jsonwebtoken';
import { NotAuthorizedError } from '../domain/errors';

export interface CurrentUser {
  id: string;
  email: string;
  role?: string;
  /** The JWT says role "admin", or the id is one of ADMIN_USER_IDS (the ticketing auth service issues no role). */
  admin: boolean;
}

function fromToken(token: string, key: KeyObject): Omit<CurrentUser, 'admin'> | undefined {
  try {
    // Pinning the algorithm refuses `alg: none` and tokens signed any other way.
    const payload = jwt.verify(token, key, { algorithms: ['HS256'] });
    if (typeof payload !== 'object' || typeof payload.id !== 'string' || typeof payload.email !== 'string') {
      return undefined;
    }
    return {
      id: payload.id,
      email: payload.email,
      ...(typeof payload.role === 'string' ? { role: payload.role } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Reads the session cookie's JWT, or a Bearer token, into `req.currentUser`. */
export function authenticate(jwtKey: string, adminUserIds: ReadonlySet<string>): RequestHandler {
  // Given a string, jsonwebtoken first tries it as a public key, which throws, on every request.
  const key = createSecretKey(Buffer.from(jwtKey, 'utf8'));
  return (req, _res, next) => {
    const header = req.get('authorization');
    const bearer = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    const sessionJwt = (req.session as { jwt?: unknown } | null | undefined)?.jwt;
    const token = typeof sessionJwt === 'string' ? sessionJwt : bearer;
    const user = token ? fromToken(token, key) : undefined;
    if (user) req.currentUser = { ...user, admin: user.role === 'admin' || adminUserIds.has(user.id) };
    next();
  };
}

export const requireAuth: RequestHandler = (req, _res, next) => {
  if (!req.currentUser) throw new NotAuthorizedError('Not authorized');
  next();
};

/** Admins only; anyone else gets the same 401 as a caller without a session. */
export const requireAdmin: RequestHandler = (req, _res, next) => {
  if (!req.currentUser?.admin) throw new NotAuthorizedError('Not authorized');
  next();
};
