import type { Bus } from '../../src/events/bus';
import { connectBus } from '../../src/events/stan-bus';
import { createLogger } from '../../src/log';
import { eventually, uniqueName } from '../support/harness';
import { startNatsStreaming, testBus, type NatsServer } from '../support/servers';
import { startTcpProxy } from '../support/tcp-proxy';

let nats: NatsServer;
let proxy: Awaited<ReturnType<typeof startTcpProxy>>;

// The streaming connect request: what node-nats-streaming sends once its NATS connection is up.
const CONNECT_REQUEST = '_STAN.discover';
// A subscription request.
const SUBSCRIBE_REQUEST = '_STAN.sub.';

const describeStan = testBus() === 'stan' ? describe : describe.skip;

describeStan('connecting to NATS Streaming while it goes away (NATS Streaming only)', () => {
  beforeAll(async () => {
    nats = await startNatsStreaming();
  });
  beforeEach(async () => {
    proxy = await startTcpProxy(nats.port);
  });
  afterEach(async () => {
    await proxy.close();
  });
  afterAll(async () => {
    await nats.stop();
  });

  const connect = () =>
    connectBus(
      { url: proxy.url, clusterId: nats.clusterId, clientId: uniqueName('connect'), queueGroup: 'q', ackWaitMs: 1000 },
      createLogger({ level: 'silent' }),
      15_000,
    );

  // Seen in a chaos run: a service that started while NATS Streaming restarted was never ready.
  test('a connection dropped during its connect request is tried again at boot', async () => {
    proxy.cutWhenSent(CONNECT_REQUEST);
    const bus = await connect();
    expect(proxy.faults()).toBe(1);
    expect(bus.isConnected()).toBe(true);
    await bus.publish({ subject: 'payment:created', id: 'a', key: 'a', data: { n: 1 } });
    await bus.close();
  }, 20_000);

  test('a connection the server takes and never answers is given up and tried again at boot', async () => {
    proxy.silentFor(1);
    const bus = await connect();
    expect(proxy.faults()).toBe(1);
    expect(bus.isConnected()).toBe(true);
    await bus.close();
  }, 20_000);

  test('a reconnection dropped during its connect request is tried again', async () => {
    const bus: Bus = await connect();
    const got: string[] = [];
    bus.subscribe('payment:created', async (m) => {
      got.push(m.data);
      return { kind: 'ack' };
    });
    proxy.cutWhenSent(CONNECT_REQUEST);
    proxy.cutAll();
    await eventually(async () => proxy.faults() === 1 && bus.isConnected(), 15_000);
    await bus.publish({ subject: 'payment:created', id: 'b', key: 'b', data: { n: 2 } });
    await eventually(async () => got.includes(JSON.stringify({ n: 2 })), 5_000);
    await bus.close();
  }, 25_000);

  test('a subscription the server does not answer is asked for again', async () => {
    const bus: Bus = await connect();
    const got: string[] = [];
    proxy.dropWhenSent(SUBSCRIBE_REQUEST);
    bus.subscribe('order:created', async (m) => {
      got.push(m.data);
      return { kind: 'ack' };
    });
    await eventually(async () => proxy.faults() === 1, 5_000);
    await eventually(() =>
      bus.publish({ subject: 'order:created', id: 'c', key: 'c', data: { n: 3 } }).then(
        () => true,
        () => false,
      ),
    );
    await eventually(async () => got.includes(JSON.stringify({ n: 3 })), 20_000);
    await bus.close();
  }, 35_000);
});
