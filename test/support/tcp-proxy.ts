import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP front for a real server that can cut its connections: all of them now, or the
 * one that next sends some bytes (a NATS client's streaming connect request, say), as
 * a server that goes away at that moment would.
 */
export async function startTcpProxy(targetPort: number) {
  const open = new Set<Socket>();
  let cutOn: { marker: string; count: number } = { marker: '', count: 0 };
  let cuts = 0;

  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair = [client, upstream];
    const cut = () => pair.forEach((s) => s.destroy());
    pair.forEach((s) => {
      open.add(s);
      s.once('close', () => {
        open.delete(s);
        cut();
      });
      s.on('error', cut);
    });
    client.on('data', (d: Buffer) => {
      if (cutOn.count > 0 && d.toString('latin1').includes(cutOn.marker)) {
        cutOn.count--;
        cuts++;
        return cut();
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => client.write(d));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    /** The next `count` connections that send `marker` are cut before it reaches the server. */
    cutWhenSent(marker: string, count = 1) {
      cutOn = { marker, count };
    },
    /** Cuts every connection open now. */
    cutAll() {
      [...open].forEach((s) => s.destroy());
    },
    cuts: () => cuts,
    async close() {
      [...open].forEach((s) => s.destroy());
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
