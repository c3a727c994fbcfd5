import { MAX_IN_FLIGHT } from '../../src/events/bus';
import { connectBus } from '../../src/events/stan-bus';
import { Subjects } from '../../src/events/subjects';
import { createLogger } from '../../src/log';
import { eventually, uniqueName } from '../support/harness';
import { startNatsStreaming, type NatsServer } from '../support/servers';

let nats: NatsServer;
const log = createLogger({ level: 'silent' });
const connect = (queueGroup: string) =>
  connectBus(
    { url: nats.url, clusterId: nats.clusterId, clientId: uniqueName('replay'), queueGroup, ackWaitMs: 30_000 },
    log,
    10_000,
  );

beforeAll(async () => {
  nats = await startNatsStreaming();
});

afterAll(async () => {
  await nats.stop();
});

describe('a new queue group replaying a channel', () => {
  test(`is handed at most ${MAX_IN_FLIGHT} messages at once, and every message in the end`, async () => {
    const total = MAX_IN_FLIGHT * 4;
    const publisher = await connect('');
    for (let n = 0; n < total; n++) {
      await publisher.publish({ subject: Subjects.OrderCreated, id: String(n), key: String(n), data: { n } });
    }
    await publisher.close();

    // Handlers hold until more than the bound are running or a second has passed: without the
    // bound the whole history would be running at once.
    let running = 0;
    let most = 0;
    const handled = new Set<string>();
    const opened = Date.now();
    const subscriber = await connect(uniqueName('group'));
    subscriber.subscribe(Subjects.OrderCreated, async (msg) => {
      running++;
      most = Math.max(most, running);
      await eventually(async () => running > MAX_IN_FLIGHT || Date.now() - opened > 1000, 5000);
      handled.add(msg.data);
      running--;
      return { kind: 'ack' };
    });
    await eventually(async () => handled.size === total, 30_000);
    await subscriber.close();

    expect(most).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    expect(most).toBeGreaterThan(1);
  });
});
