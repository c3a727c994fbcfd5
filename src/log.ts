import pino from 'pino';

export type Logger = pino.Logger;

// Card tokens, session cookies, JWTs and keys must never reach a log line.
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.token',
  '*.source',
  '*.jwt',
  '*.password',
  '*.stripeKey',
  '*.jwtKey',
  'err.raw.headers',
  'err.headers',
  'err.requestId',
];

export function createLogger(opts: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: opts.level,
      base: { service: 'payments' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
    },
    opts.destination,
  );
}
