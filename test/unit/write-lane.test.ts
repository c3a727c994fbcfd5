import { setTimeout as sleep } from 'node:timers/promises';
import { writeLane } from '../../src/db/writes';

describe('the write lane', () => {
  test('counts its writes, the time they waited for a place and the time they held one', async () => {
    const lane = writeLane(1);
    const order: string[] = [];
    const write = (name: string) => async () => {
      order.push(`${name} starts`);
      await sleep(100);
      order.push(`${name} ends`);
    };
    await Promise.all([lane.run(write('first')), lane.run(write('second'))]);
    // One place: the second write waited for the first.
    expect(order).toEqual(['first starts', 'first ends', 'second starts', 'second ends']);
    expect(lane.stats.writes).toBe(2);
    expect(lane.stats.waitSeconds).toBeGreaterThanOrEqual(0.09);
    expect(lane.stats.waitSeconds).toBeLessThan(0.19);
    expect(lane.stats.busySeconds).toBeGreaterThanOrEqual(0.19);
    expect(lane.stats.busySeconds).toBeLessThan(0.39);
  });

  test('counts a write that failed, and gives its place to the next', async () => {
    const lane = writeLane(1);
    const failed = lane.run(async () => {
      await sleep(20);
      throw new Error('refused');
    });
    const next = lane.run(async () => 'done');
    await expect(failed).rejects.toThrow('refused');
    await expect(next).resolves.toBe('done');
    expect(lane.stats.writes).toBe(2);
    expect(lane.stats.busySeconds).toBeGreaterThanOrEqual(0.015);
  });

  test('without a limit, writes go at once and nothing is counted', async () => {
    const lane = writeLane(0);
    let running = 0;
    let most = 0;
    const write = async () => {
      most = Math.max(most, ++running);
      await sleep(10);
      running--;
    };
    await Promise.all([lane.run(write), lane.run(write), lane.run(write)]);
    expect(most).toBe(3);
    expect(lane.stats).toEqual({ writes: 0, waitSeconds: 0, busySeconds: 0 });
  });
});
