/**
 * Runs a background pass (the outbox's sends, the reconciler's look) one at a time. `run()` resolves
 * once a pass begun at or after the call has ended: a pass already running may have read its work
 * before what the caller waits for was there, so a call made meanwhile gets a pass of its own after
 * it, one for all such calls. A timer's tick needs no such pass: `join()` takes the running one.
 * `pass` handles its own errors.
 */
export function onePassAtATime(pass: () => Promise<void>) {
  let running: Promise<void> | null = null;
  let next: Promise<void> | null = null;
  function run(): Promise<void> {
    if (running) {
      next ??= running.then(() => {
        next = null;
        return run();
      });
      return next;
    }
    running = pass().finally(() => {
      running = null;
    });
    return running;
  }
  return {
    run,
    join: () => running ?? run(),
    /** Resolves once no pass is running or waiting to. */
    idle: () => next ?? running ?? Promise.resolve(),
  };
}
