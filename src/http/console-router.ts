import { join } from 'node:path';
import express, { Router } from 'express';
import { OTHER_MINOR_UNITS, USUAL_MINOR_UNIT_DIGITS } from '../domain/money';
import { requireAdmin } from './auth';

const CONSOLE = '/api/payments/admin';
// public/console sits two folders above this file in src/http and in dist/http alike.
const FILES = join(__dirname, '..', '..', 'public', 'console');
const PAGES = new Set(['/', '/index.html', '/console.js', '/console.css', '/money.js']);

// The service's own rule for the decimals of a currency, for the page to show amounts with:
// a browser's Intl has other ones (none for ISK, which Stripe counts in hundredths).
const MONEY_JS = [
  "'use strict';",
  "// Written by the service from its rule (src/domain/money.ts): decimals of a currency's minor unit.",
  `const OTHER_MINOR_UNITS = ${JSON.stringify(OTHER_MINOR_UNITS)};`,
  `const minorUnitDigits = (currency) => OTHER_MINOR_UNITS[currency.toLowerCase()] ?? ${USUAL_MINOR_UNIT_DIGITS};`,
  '',
].join('\n');

// Only the page's own files and the API: no inline script or style, no other origin, no framing.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The admin console: static files that call the API with the admin's own session, so it
 * can do nothing the API does not allow. A non-admin gets the API's 401.
 */
export function consoleRouter(): Router {
  const router = Router();
  const pages: express.RequestHandler = (req, res, next) => {
    // Anything else under /admin/ is the API's: the files are served only through this gate.
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !PAGES.has(req.path)) return next('router');
    // Throws the API's 401 for anyone but an admin.
    requireAdmin(req, res, () => undefined);
    // The page names its files relatively: without the slash they would be fetched from /api/payments/.
    const path = req.originalUrl.split('?')[0];
    if (path === CONSOLE) {
      res.redirect(301, `${CONSOLE}/`);
      return;
    }
    res.set({
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
    });
    next();
  };
  const money: express.RequestHandler = (req, res, next) => {
    if (req.path !== '/money.js') return next();
    res.type('text/javascript').send(MONEY_JS);
  };
  router.use(CONSOLE, pages, money, express.static(FILES, { index: 'index.html', redirect: false }));
  return router;
}
