/** The terminal menu of `npm run demo`: what a person tries after the walk-through. */
import { createInterface } from 'node:readline';
import type { DemoSteps } from './steps';

const MENU = `
What next?
  1  create an order for the demo user        5  refund the last payment (as an admin)
  2  create an order for another user         6  cancel the last order (after payment: refunded)
  3  pay the last order, card that succeeds   7  list payments (as an admin)
  4  pay the last order, card declined        8  list the demo user's payments
  h  how to call it yourself                  q  stop everything`;

export async function runMenu(steps: DemoSteps, help: () => void): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const actions: Record<string, () => Promise<unknown> | void> = {
    '1': () => steps.createOrder(),
    '2': () => steps.createOrder(steps.newUser()),
    '3': () => steps.pay('succeeds'),
    '4': () => steps.pay('declined'),
    '5': () => steps.refund(),
    '6': () => steps.cancelOrder(),
    '7': () => steps.list('admin'),
    '8': () => steps.list('user'),
    h: help,
  };
  // In a terminal readline takes Ctrl-C itself (raw mode): stop as q does.
  rl.on('SIGINT', () => rl.close());
  const prompt = () => process.stdout.write(`${MENU}\n> `);
  try {
    prompt();
    // Lines typed while a step runs wait in the iterator's queue, in order: none is lost.
    for await (const line of rl) {
      const choice = line.trim().toLowerCase();
      if (choice === 'q') return;
      try {
        await actions[choice]?.();
      } catch (err) {
        process.stdout.write(`  failed: ${(err as Error).message}\n`);
      }
      prompt();
    }
    // stdin closed (Ctrl-D): stop as q does.
  } finally {
    rl.close();
  }
}
