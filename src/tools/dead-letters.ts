import { parseArgs } from 'node:util';
import { connectDb } from '../db/connect';
import { createDeadLetterStore, type DeadLetter } from '../db/dead-letters';
import { connectBus } from '../events/connect-bus';
import { replayDeadLetter } from '../events/replay';
import { createLogger } from '../log';
import { runTool, UsageError } from './cli';
import { loadToolConfig } from './tool-config';

const USAGE = `usage: node dist/tools/dead-letters.js list [--json]
       node dist/tools/dead-letters.js replay ID [ID...]
  list    the messages the service parked, oldest first (reads MONGO_URI or MONGO_URL)
  replay  publishes each message again on its subject, as it arrived, then removes it from
          the list (also reads the service's bus settings: BUS, NATS_* or KAFKA_*); if the service
          still cannot process it, it is parked again under a new id`;

function describe(d: DeadLetter): string {
  const payload = d.payload.length > 120 ? `${d.payload.slice(0, 117)}...` : d.payload;
  return `${d.id}  ${d.parkedAt.toISOString()}  deliveries ${d.deliveries}  ${d.reason}\n    ${payload}`;
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { json: { type: 'boolean' } } });
  const [command, ...ids] = positionals;
  if (command !== 'list' && command !== 'replay') throw new UsageError('list or replay?');
  if (command === 'replay' && ids.length === 0) throw new UsageError('replay needs the ids of the messages');
  const config = loadToolConfig(process.env, { nats: command === 'replay' });
  const log = createLogger({ level: config.logLevel });
  const db = await connectDb(config.mongoUri, log, 10_000);
  try {
    const deadLetters = createDeadLetterStore(db.connection);
    if (command === 'list') {
      const all = await deadLetters.list();
      process.stdout.write(values.json ? `${JSON.stringify(all)}\n` : `${all.map(describe).join('\n')}\n`);
      return;
    }
    const settings = config.bus as NonNullable<typeof config.bus>;
    // A client id of its own, so that it never takes over the service's connection; it subscribes to nothing.
    const bus = await connectBus(
      { ...settings, nats: { ...settings.nats, clientId: `${settings.nats.clientId}-replay` } },
      log,
      10_000,
    );
    try {
      for (const id of ids) {
        const d = await replayDeadLetter({ deadLetters, bus }, id);
        process.stdout.write(`replayed ${id} on ${d.subject}\n`);
      }
    } finally {
      await bus.close();
    }
  } finally {
    await db.close();
  }
}

if (require.main === module) runTool('dead-letters', USAGE, main);
