import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { CurrentUser } from './auth';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
    currentUser?: CurrentUser;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Gives every request an id (the caller's X-Request-Id when sane), a child logger and an access line. */
export function requestContext(log: Logger, metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    req.id = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.log = log.child({ reqId: req.id });
    res.setHeader('X-Request-Id', req.id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      metrics.httpDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      // Probes and scrapes arrive every few seconds; at info they would drown the log.
      const level = route.startsWith('/api/payments/health') || route === '/metrics' ? 'debug' : 'info';
      req.log[level](
        { method: req.method, url: req.originalUrl, status: res.statusCode, ms: Math.round(seconds * 1000) },
        'request done',
      );
    });
    next();
  };
}
