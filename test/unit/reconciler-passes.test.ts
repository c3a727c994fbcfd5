import { createLogger } from '../../src/log';
import { startReconciler } from '../../src/reconciler';

describe('the reconciler', () => {
  test('runOnce while a timed pass runs makes a whole pass of its own after it, sweepers included', async () => {
    let release = () => {};
    const reconciles: string[] = [];
    const swept: Date[] = [];
    const reconciler = startReconciler({
      reconcile: async () => {
        reconciles.push(reconciles.length === 0 ? 'timed' : 'asked');
        // The timed pass holds on until the test lets it go.
        if (reconciles.length === 1) await new Promise<void>((resolve) => (release = resolve));
        return { settled: 0, errors: [], oldestPending: null };
      },
      sweepers: [{ sweep: async (now) => void swept.push(now), everyMs: 3_600_000 }],
      clock: { now: () => new Date() },
      log: createLogger({ level: 'silent' }),
      intervalMs: 10,
    });
    try {
      while (reconciles.length === 0) await new Promise((r) => setTimeout(r, 5));
      const asked = reconciler.runOnce();
      release();
      await asked;
      expect(reconciles).toEqual(['timed', 'asked']);
      expect(swept).toHaveLength(1);
    } finally {
      release();
      await reconciler.stop();
    }
  });
});
