/**
 * For scripts/fuzz-api.sh: publishes order:created for the fuzzing user on the running demo's bus
 * (read from .demo/settings.json), waits until the service has them, and writes their ids with the
 * demo provider's test tokens to a file, so that the fuzzer's payments reach the charging code
 * instead of stopping at 404 unknown order.
 *
 *   tsx scripts/fuzz-orders.ts <userId> <count> <out.json>
 */
import { writeFileSync } from 'node:fs';
import mongoose, { Types } from 'mongoose';
import { connectOrdersService } from './demo/orders';
import { readSettings } from './demo/session';
import { TEST_CARDS } from './demo/site';

async function main() {
  const [userId, count, outFile] = process.argv.slice(2);
  if (!userId || !count || !outFile) throw new Error('usage: fuzz-orders.ts <userId> <count> <out.json>');
  const settings = readSettings();
  const orders = await connectOrdersService({ url: settings.natsUrl, clusterId: settings.natsClusterId });
  const db = await mongoose.createConnection(settings.mongoUrl).asPromise();
  try {
    const ids: string[] = [];
    for (let i = 0; i < Number(count); i++) {
      // Prices with cents of every kind: the exact conversion to minor units is on the way.
      // toFixed: a float sum such as 2.3699999999999997 has more decimals than dollars have, and is parked.
      ids.push((await orders.createOrder(userId, Number((1 + ((i * 137) % 9999) / 100).toFixed(2)))).id);
    }
    const stored = () =>
      db.collection('orders').countDocuments({ _id: { $in: ids.map((id) => new Types.ObjectId(id)) } });
    const deadline = Date.now() + 30_000;
    while ((await stored()) < ids.length) {
      if (Date.now() > deadline) throw new Error('the service did not store the orders in 30 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    const tokens = TEST_CARDS[settings.provider].map((c) => c.token);
    writeFileSync(outFile, JSON.stringify({ orderIds: ids, tokens }));
    process.stderr.write(`fuzz-api: ${ids.length} orders created for ${userId}\n`);
  } finally {
    await db.close();
    await orders.close();
  }
}

// A demo that has stopped leaves its settings behind: do not wait for its bus for ever.
setTimeout(() => {
  process.stderr.write('fuzz-api: the demo is not answering (is `npm run demo` still running?)\n');
  process.exit(1);
}, 60_000).unref();

main().catch((err: unknown) => {
  process.stderr.write(`fuzz-api: could not create orders: ${(err as Error).message}\n`);
  process.exit(1);
});
