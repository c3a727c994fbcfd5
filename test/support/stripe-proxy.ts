import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Recorded {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
  body: string;
}

/**
 * A Stripe-compatible front for stripe-mock or localstripe that adds what
 * neither can produce: a charge held in flight, outages (5xx, 429, dropped
 * connections), objects it does not keep (disputes), and Stripe's idempotency-key replay (a repeated key returns the
 * first response without reaching the server behind it, as Stripe does).
 */
export async function startStripeProxy(target: string) {
  const seen: Recorded[] = [];
  const forwarded: Recorded[] = [];
  const replies = new Map<string, { status: number; body: string }>();
  const running = new Set<string>();
  let hold: { promise: Promise<void>; release: () => void } | null = null;
  let holdOne: Promise<void> | null = null;
  // Requests whose answer is lost on the way back: the server behind does the work, the client gets a 500.
  let lost: { count: number; path: string } = { count: 0, path: '' };
  let failures: { count: number; status: number | 'drop'; type: string; path?: string } = {
    count: 0,
    status: 500,
    type: 'api_error',
  };
  const arrivals: (() => void)[] = [];
  // The next answer to a POST of this path, changed as a server in another state would have answered.
  let rewrite: { path: string; change: (body: Record<string, unknown>) => unknown } | null = null;
  // Answers for objects the server behind does not have (localstripe keeps no disputes).
  const served = new Map<string, unknown>();

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const key = req.headers['idempotency-key'] as string | undefined;
      const rec = { method: req.method ?? 'GET', path: req.url ?? '/', idempotencyKey: key, body };
      seen.push(rec);
      arrivals.splice(0).forEach((a) => a());
      if (failures.count > 0 && (failures.path === undefined || rec.path.startsWith(failures.path))) {
        failures.count--;
        if (failures.status === 'drop') return req.socket.destroy();
        res.writeHead(failures.status, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: { type: failures.type, message: `Simulated ${failures.type}` } }));
      }
      if (hold) await hold.promise;
      if (holdOne) {
        const held = holdOne;
        holdOne = null;
        await held;
      }
      const object = req.method === 'GET' ? served.get((req.url ?? '').split('?')[0] as string) : undefined;
      if (object) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(object));
      }
      const losing = lost.count > 0 && rec.path.startsWith(lost.path);
      if (losing) lost.count--;
      const lose = () => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'api_error', message: 'Simulated lost answer' } }));
      };
      const cached = key ? replies.get(key) : undefined;
      if (cached && losing) return lose();
      if (cached) {
        res.writeHead(cached.status, { 'content-type': 'application/json', 'idempotent-replayed': 'true' });
        return res.end(cached.body);
      }
      if (key && running.has(key)) {
        // Stripe refuses a second request while the first with its key is still running.
        res.writeHead(409, { 'content-type': 'application/json' });
        return res.end(
          JSON.stringify({ error: { type: 'idempotency_error', message: 'A request with this key is in progress' } }),
        );
      }
      if (key) running.add(key);
      forwarded.push(rec);
      const upstream = await fetch(`${target}${req.url}`, {
        method: req.method,
        headers: {
          authorization: req.headers.authorization ?? '',
          'content-type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded',
        },
        ...(body && req.method !== 'GET' ? { body } : {}),
      });
      let text = await upstream.text();
      if (rewrite && req.method === 'POST' && rec.path === rewrite.path && upstream.ok) {
        text = JSON.stringify(rewrite.change(JSON.parse(text) as Record<string, unknown>));
        rewrite = null;
      }
      if (key) running.delete(key);
      if (key && upstream.status < 500) replies.set(key, { status: upstream.status, body: text });
      if (losing) return lose();
      res.writeHead(upstream.status, { 'content-type': 'application/json' });
      res.end(text);
    })().catch((err: unknown) => {
      res.writeHead(502);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const charges = (list: Recorded[]) => list.filter((r) => r.method === 'POST' && r.path === '/v1/charges');
  const refunds = (list: Recorded[]) => list.filter((r) => r.method === 'POST' && r.path === '/v1/refunds');
  const intents = (list: Recorded[]) => list.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents');

  return {
    url: `http://127.0.0.1:${port}`,
    /** Every charge request that arrived, replays included. */
    chargeAttempts: () => charges(seen),
    /** Charge searches, which the reconciler makes for payments older than Stripe keeps keys. */
    chargeSearches: () => seen.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/charges/search')),
    /** Charge requests that reached the server behind: real charges. */
    chargesMade: () => charges(forwarded),
    /** Every PaymentIntent creation that arrived (off-session charges), replays included. */
    intentAttempts: () => intents(seen),
    /** PaymentIntent creations that reached the server behind. */
    intentsMade: () => intents(forwarded),
    /** Every refund request that arrived, replays included. */
    refundAttempts: () => refunds(seen),
    /** Refund requests that reached the server behind: real refunds. */
    refundsMade: () => refunds(forwarded),
    /** The next `count` requests to `path` reach the server behind, but their answers are lost (a 500 instead). */
    loseReplies(count: number, path: string) {
      lost = { count, path };
    },
    /** Forgets every idempotency key, as Stripe does after 24 hours. */
    forgetKeys() {
      replies.clear();
    },
    /** Holds the next request alone until the returned function is called; the others go on. */
    holdNext(): () => void {
      let release = () => undefined as void;
      holdOne = new Promise<void>((r) => (release = r));
      return () => release();
    },
    /** Holds every request until the returned function is called. */
    hold(): () => void {
      let release = () => undefined as void;
      const promise = new Promise<void>((r) => (release = r));
      hold = { promise, release };
      return () => {
        hold = null;
        release();
      };
    },
    /**
     * The next `count` requests (to `path` only, when given) fail: with `status` and an error of
     * `type` (Stripe's), or a dropped connection.
     */
    failNext(count: number, status: number | 'drop' = 500, type = 'api_error', path?: string) {
      failures = { count, status, type, ...(path !== undefined && { path }) };
    },
    /**
     * The next POST to `path` is answered as `change` makes the answer of the server behind (and
     * replayed so under its idempotency key, as Stripe replays a first answer): a state it cannot reach.
     */
    rewriteNext(path: string, change: (body: Record<string, unknown>) => unknown) {
      rewrite = { path, change };
    },
    /** GET `path` answers `object`, as Stripe would for an object the server behind cannot make. */
    serve(path: string, object: unknown) {
      served.set(path, object);
    },
    /** Resolves when `n` charge requests have arrived. */
    async chargeArrived(n = 1, timeoutMs = 10000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (charges(seen).length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} charge requests, saw ${charges(seen).length}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, 100);
          arrivals.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        hold?.release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
export type StripeProxy = Awaited<ReturnType<typeof startStripeProxy>>;
