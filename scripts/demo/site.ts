/**
 * The demo's checkout site, in the manner of the ticketing client: it serves a page that
 * creates an order (published on the bus as the orders service would) and pays it with
 * `POST /api/payments {token, orderId}` and the session cookie, as the client does. Like the
 * ticketing ingress, it passes every /api/ request on to the payments service, so the page,
 * its cookie and the admin console share one origin. Never part of the production service.
 */
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import { Types } from 'mongoose';
import { sessionValue, userOf, type SessionUser } from './session';

/** A Stripe test card, and what the demo's provider takes for it in place of Stripe.js's token. */
export interface TestCard {
  number: string;
  label: string;
  token: string;
}

/** What each provider of the demo takes: localstripe declines 4000 0000 0000 0341 when charged. */
export const TEST_CARDS: Record<'localstripe' | 'simulator', TestCard[]> = {
  localstripe: [
    { number: '4242 4242 4242 4242', label: 'Visa, succeeds', token: 'pm_card_visa' },
    { number: '4000 0000 0000 0341', label: 'Visa, declined when charged', token: 'pm_card_chargeCustomerFail' },
  ],
  simulator: [
    { number: '4242 4242 4242 4242', label: 'Visa, succeeds', token: 'tok_visa' },
    { number: '4000 0000 0000 0002', label: 'Visa, declined', token: 'tok_chargeDeclined' },
  ],
};

export interface SiteDeps {
  serviceUrl: string;
  jwtKey: string;
  cards: TestCard[];
  /** Publishes order:created for the user and resolves once the payments service has stored it. */
  createOrder(userId: string, price: number): Promise<{ id: string; expiresAt: string; ticket: { price: number } }>;
  /** The demo's own user, who is signed in first. */
  demoUser: SessionUser;
  port?: number;
}

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src data:; base-uri 'none'";

export async function startCheckoutSite(deps: SiteDeps) {
  const app = express();
  app.disable('x-powered-by');
  const setSession = (res: express.Response, user: SessionUser) =>
    res.setHeader('Set-Cookie', `session=${sessionValue(user, deps.jwtKey)}; Path=/; HttpOnly; SameSite=Lax`);

  // The ingress: /api/ goes to the payments service as it came, cookie and all.
  app.use('/api', (req, res) => {
    const target = new URL(req.originalUrl, deps.serviceUrl);
    const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () =>
      res.status(502).json({ errors: [{ message: 'The payments service is not answering' }] }),
    );
    req.pipe(upstream);
  });

  app.use((_req, res, next) => {
    res.set({ 'Content-Security-Policy': CSP, 'Cache-Control': 'no-store' });
    next();
  });
  app.get('/demo/session', (req, res) => {
    res.json({ user: userOf(req.headers.cookie, deps.jwtKey), demoUser: deps.demoUser, cards: deps.cards });
  });
  // Signs in as the auth service would: the demo user, a new user, or an admin.
  app.post('/demo/session', express.json(), (req, res) => {
    const as = (req.body as { as?: string }).as;
    const id = new Types.ObjectId().toHexString();
    const user: SessionUser =
      as === 'admin'
        ? { id, email: `admin-${id.slice(-6)}@ticketing.dev`, role: 'admin' }
        : as === 'new'
          ? { id, email: `user-${id.slice(-6)}@ticketing.dev` }
          : deps.demoUser;
    setSession(res, user);
    res.json({ user });
  });
  app.post('/demo/orders', express.json(), async (req, res) => {
    const user = userOf(req.headers.cookie, deps.jwtKey);
    if (!user) {
      res.status(401).json({ errors: [{ message: 'Not authorized', code: 'not_authorized' }] });
      return;
    }
    const price = Number((req.body as { price?: unknown }).price ?? 20);
    if (!(price > 0 && price < 100000)) {
      res.status(400).json({ errors: [{ message: 'price must be above 0', field: 'price', code: 'invalid_field' }] });
      return;
    }
    res.status(201).json(await deps.createOrder(user.id, price));
  });
  app.use(express.static(join(__dirname, 'checkout'), { index: 'index.html' }));
  app.use(((err, _req, res, _next) => {
    process.stderr.write(`checkout site: ${(err as Error).stack ?? String(err)}\n`);
    res.status(500).json({ errors: [{ message: 'The demo failed: see its terminal', code: 'internal' }] });
  }) as express.ErrorRequestHandler);

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(deps.port ?? 0, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
export type CheckoutSite = Awaited<ReturnType<typeof startCheckoutSite>>;
