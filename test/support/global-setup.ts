import { startFerretDb, startLocalstripe, startStripeMock, type RunningServer } from './servers';

declare global {
  var __SERVERS__: { stop(): Promise<void> }[] | undefined;
}

/**
 * Starts the servers every test file shares: MongoDB-compatible storage,
 * stripe-mock and localstripe. Each test file starts its own NATS Streaming.
 * MONGO_URI wins when set; TEST_MONGO=memory uses mongodb-memory-server
 * (which downloads mongod, so it needs the internet); else FerretDB on SQLite,
 * or on PostgreSQL with TEST_STORE=postgresql.
 */
export default async function globalSetup(): Promise<void> {
  const started: { stop(): Promise<void> }[] = [];
  globalThis.__SERVERS__ = started;
  const keep = <T extends RunningServer>(s: T) => {
    started.push(s);
    return s;
  };

  const given = process.env.MONGO_URI ?? process.env.MONGO_URL;
  if (given) {
    process.env.TEST_MONGO_URI = given.replace(/\/[^/]*$/, '');
  } else if (process.env.TEST_MONGO === 'memory') {
    const { MongoMemoryServer } = await import('mongodb-memory-server');
    const mongod = await MongoMemoryServer.create();
    started.push({ stop: async () => void (await mongod.stop()) });
    process.env.TEST_MONGO_URI = mongod.getUri().replace(/\/$/, '');
  } else {
    const store = process.env.TEST_STORE === 'postgresql' ? 'postgresql' : 'sqlite';
    process.env.TEST_MONGO_URI = keep(await startFerretDb({ store })).url;
  }
  const [stripeMock, localstripe] = await Promise.all([startStripeMock(), startLocalstripe()]);
  process.env.STRIPE_MOCK_URL = keep(stripeMock).url;
  process.env.LOCALSTRIPE_URL = keep(localstripe).url;
}
