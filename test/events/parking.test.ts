import { eventually, newId, useStack } from '../support/harness';
import { unacked } from '../support/nats-monitor';

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
