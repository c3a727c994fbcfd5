import { busClient, eventually, newId, startTestService, uniqueName, useStack } from '../support/harness';
import { unacked } from '../support/nats-monitor';
import { startNatsStreaming, testBus } from '../support/servers';

// Many deliveries allowed, little age: the age bound is the one that parks.
const stack = useStack({
  name: 'parking',
  env: { NATS_ACK_WAIT_MS: '1000', EVENT_MAX_DELIVERIES: '1000', EVENT_MAX_AGE_MS: '2500' },
});

describe('EVENT_MAX_AGE_MS', () => {
  test('a message retried longer than its age bound is parked and acked, whatever its deliveries', async () => {
    const orderId = newId();
    const started = Date.now();
    await stack.peer.publish('order:cancelled', { id: orderId, version: 1 });
    const parked = await eventually(async () => {
      const all = await stack.service.stores.deadLetters.list();
      return all.find((d) => d.payload.includes(orderId));
    }, 10_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
    expect(parked).toMatchObject({ subject: 'order:cancelled', reason: expect.stringMatching(/not seen yet/) });
    expect(parked.deliveries).toBeGreaterThanOrEqual(3);
    expect(parked.deliveries).toBeLessThan(10);
    await eventually(async () => (await unacked(stack.nats, 'order:cancelled')) === 0);
  });
});

describe('dead letters', () => {
  // Only NATS Streaming with a memory store numbers a channel from 1 again after a restart.
  const onStan = testBus() === 'stan' ? test : test.skip;

  onStan(
    'a message parked after a memory store restarted takes the place of no older letter, though its sequence is the same',
    async () => {
      const nats = await startNatsStreaming();
      const { service } = await startTestService({ nats, db: uniqueName('parking_restart') });
      const parkedPayloads = async () =>
        (await service.stores.deadLetters.list()).filter((d) => d.subject === 'order:created').map((d) => d.payload);
      try {
        let peer = await busClient(nats);
        await peer.publish('order:created', '{before the restart');
        await eventually(async () => (await parkedPayloads()).length === 1);
        await peer.close();

        await nats.stop();
        await nats.start();
        await eventually(async () => service.bus.isConnected(), 20_000);
        peer = await busClient(nats);
        try {
          // First on the channel again: the same place on the bus as the letter parked before.
          await peer.publish('order:created', '{after the restart');
          await eventually(async () => (await parkedPayloads()).length === 2, 15_000);
          expect((await parkedPayloads()).sort()).toEqual(['{after the restart', '{before the restart']);
        } finally {
          await peer.close();
        }
      } finally {
        await service.stop();
        await nats.stop();
      }
    },
    60_000,
  );
});
