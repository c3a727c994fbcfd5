import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** How the receiver answers a request: a status, or never (the request hangs until released). */
export type Answer = number | 'hang';

export interface Callback {
  headers: IncomingHttpHeaders;
  /** The body exactly as it came, which is what the signature covers. */
  raw: string;
  body: { type: string; timestamp: string; data: Record<string, unknown> };
  answer: Answer;
}

/**
 * An order service's callback endpoint on 127.0.0.1: records every request and
 * answers as the test says. `stop()` closes its port (connections are refused),
 * `start()` opens the same port again.
 */
export async function startReceiver() {
  const received: Callback[] = [];
  const waiters: (() => void)[] = [];
  const hanging: ServerResponse[] = [];
  const sockets = new Set<Socket>();
  let answer: (c: Callback) => Answer = () => 200;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const partial = { headers: req.headers, raw, body: JSON.parse(raw) as Callback['body'] };
      const callback: Callback = { ...partial, answer: answer({ ...partial, answer: 200 }) };
      received.push(callback);
      waiters.splice(0).forEach((w) => w());
      if (callback.answer === 'hang') hanging.push(res);
      else res.writeHead(callback.answer).end();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;

  async function stop() {
    for (const res of hanging.splice(0)) res.socket?.destroy();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  }

  return {
    url: `http://127.0.0.1:${port}/callbacks`,
    received,
    /** Requests carrying this event (webhook-id). */
    of: (eventId: string) => received.filter((c) => c.headers['webhook-id'] === eventId),
    /** Sets how the next requests are answered. */
    answerWith(how: Answer | ((c: Callback) => Answer)) {
      answer = typeof how === 'function' ? how : () => how;
    },
    hangingCount: () => hanging.filter((r) => !r.socket?.destroyed).length,
    /** Resolves once `count` requests match. */
    async waitFor(match: (c: Callback) => boolean, count = 1, timeoutMs = 10000): Promise<Callback[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hits = received.filter(match);
        if (hits.length >= count) return hits;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} matching callbacks, saw ${hits.length}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
    /** Closes the port: from now on connections are refused. */
    stop,
    start: () => listen(port),
    async close() {
      if (server.listening) await stop();
    },
  };
}
export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
