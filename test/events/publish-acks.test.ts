import { connectBus } from '../../src/events/stan-bus';
import { createLogger } from '../../src/log';
import { eventually, uniqueName } from '../support/harness';
import { startNatsStreaming, testBus, type NatsServer } from '../support/servers';
import { storedMessages } from '../support/nats-monitor';

let nats: NatsServer;

// node-nats-streaming's lost acks on close are that client's own trap: the other transports have their own tests.
const describeStan = testBus() === 'stan' ? describe : describe.skip;

describeStan('publishing to NATS Streaming (NATS Streaming only)', () => {
  beforeAll(async () => {
    nats = await startNatsStreaming({ fileStore: true });
  });

  afterAll(async () => {
    await nats.stop();
  });

  test('a publish resolves only once the server has stored the message, even when the server stops mid-burst', async () => {
    const bus = await connectBus(
      { url: nats.url, clusterId: nats.clusterId, clientId: uniqueName('acks'), queueGroup: 'q', ackWaitMs: 1000 },
      createLogger({ level: 'silent' }),
      10_000,
    );
    const acked: number[] = [];
    const burst: Promise<void>[] = [];
    // A steady stream, as the outbox sends under load, so that the server dies between messages.
    const sending = (async () => {
      for (let n = 0; n < 4000; n++) {
        burst.push(
          bus.publish({ subject: 'payment:created', id: String(n), key: String(n), data: { n } }).then(
            () => void acked.push(n),
            () => undefined,
          ),
        );
        if (n % 20 === 0) await new Promise((r) => setTimeout(r, 1));
      }
    })();
    await eventually(async () => acked.length >= 500, 10_000);
    await nats.stop('SIGKILL');
    await sending;
    await Promise.allSettled(burst);
    await bus.close();

    await nats.start();
    const stored = new Set((await storedMessages(nats, 'payment:created')).map((m) => (m as { n: number }).n));
    const lost = acked.filter((n) => !stored.has(n));
    // The server died within the burst: some publishes were never acked.
    expect(acked.length).toBeLessThan(4000);
    expect(lost).toEqual([]);
  });
});
