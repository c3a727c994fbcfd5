import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { freePort } from '../support/servers';

// Where freePort picks from: 10000 up to the kernel's first port for outgoing connections.
const ephemeralFrom = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 0;
  }
})();

afterEach(() => jest.restoreAllMocks());

describe('the ports test servers get', () => {
  // Seen in CI: NATS Streaming's monitor on 10080, and every fetch of it failed with "bad port".
  (ephemeralFrom > 12000 ? test : test.skip)('are ones fetch may connect to', async () => {
    const blocked = 10080;
    jest.spyOn(Math, 'random').mockReturnValueOnce((blocked - 10000 + 0.5) / (ephemeralFrom - 10000));
    const port = await freePort();
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      expect(await res.text()).toBe('ok');
    } finally {
      server.close();
    }
  });
});
