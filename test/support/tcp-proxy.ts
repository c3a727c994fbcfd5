import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP front for a real server that can cut its connections: all of them now, or the
 * one that next sends some bytes (a NATS client's streaming connect request, say), as
 * a server that goes away at that moment would; or lose those bytes, as a server too
 * busy to answer them would seem; or hold them until told (a command the server is slow to
 * take); or take connections and never answer them.
 */
export async function startTcpProxy(targetPort: number) {
  const open = new Set<Socket>();
  let fault: { marker: string; count: number; action: 'cut' | 'drop' } = { marker: '', count: 0, action: 'cut' };
  let faults = 0;
  let silent = 0;
  // What the server sends that never reaches the client: a frame lost on the way back.
  let lostOnTheWayBack: RegExp | null = null;
  // What the next connection to send `marker` sends from then on, kept back until released.
  let hold: { marker: string; release: Promise<void> } | null = null;

  const server = createServer((client) => {
    if (silent > 0) {
      // Taken, and never answered: a server that hangs, or a partition that lets the connection through.
      silent--;
      faults++;
      open.add(client);
      client.once('close', () => open.delete(client));
      client.on('error', () => client.destroy());
      return;
    }
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
    let held: Buffer[] | null = null;
    client.on('data', (d: Buffer) => {
      if (held) return void held.push(d);
      if (hold && d.toString('latin1').includes(hold.marker)) {
        const kept: Buffer[] = [d];
        held = kept;
        void hold.release.then(() => {
          held = null;
          kept.forEach((b) => upstream.write(b));
        });
        hold = null;
        return;
      }
      if (fault.count > 0 && d.toString('latin1').includes(fault.marker)) {
        fault.count--;
        faults++;
        if (fault.action === 'cut') cut();
        return;
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (!lostOnTheWayBack) return void client.write(d);
      const sent = d.toString('latin1');
      const kept = sent.replace(lostOnTheWayBack, '');
      if (kept.length < sent.length) faults++;
      client.write(Buffer.from(kept, 'latin1'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    /** The next `count` connections that send `marker` are cut before it reaches the server. */
    cutWhenSent(marker: string, count = 1) {
      fault = { marker, count, action: 'cut' };
    },
    /** What the next `count` connections send with `marker` in it never reaches the server. */
    dropWhenSent(marker: string, count = 1) {
      fault = { marker, count, action: 'drop' };
    },
    /**
     * What the next connection to send `marker` sends from then on is kept back until the returned
     * function is called, and then passed on in order.
     */
    holdWhenSent(marker: string): () => void {
      let release = () => {};
      hold = { marker, release: new Promise<void>((resolve) => (release = resolve)) };
      return release;
    },
    /** From now on, what the server sends that matches `frame` (a global pattern) never reaches the client. */
    loseFromServer(frame: RegExp) {
      lostOnTheWayBack = frame;
    },
    /** The next `count` connections are taken and never answered, nor passed on. */
    silentFor(count = 1) {
      silent = count;
    },
    /** Cuts every connection open now. */
    cutAll() {
      [...open].forEach((s) => s.destroy());
    },
    /** Connections cut, and sends dropped, so far. */
    faults: () => faults,
    async close() {
      [...open].forEach((s) => s.destroy());
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
