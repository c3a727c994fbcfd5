import mongoose from 'mongoose';
import type { Logger } from '../log';
import { retry } from '../retry';
import { limitWrites } from './writes';

export interface Db {
  connection: mongoose.Connection;
  /** The driver's own handle on the database, for the writes the hot path makes. */
  native: mongoose.mongo.Db;
  isConnected(): boolean;
  close(): Promise<void>;
}

/**
 * Connects with backoff for at most `timeoutMs`, then gives up: the service never serves without its
 * database. `writesInFlight` caps the write commands its stores have in flight at once (0: no cap).
 */
export async function connectDb(uri: string, log: Logger, timeoutMs: number, writesInFlight = 0): Promise<Db> {
  const connection = await retry(
    async () => {
      // Several short attempts inside the boot window, each logged, rather than one long wait.
      const conn = mongoose.createConnection(uri, {
        serverSelectionTimeoutMS: Math.min(5000, Math.max(500, timeoutMs / 4)),
      });
      try {
        await conn.asPromise();
        return conn;
      } catch (err) {
        await conn.close().catch(() => undefined);
        throw err;
      }
    },
    { timeoutMs, onRetry: (err, wait) => log.warn({ err, wait }, 'MongoDB not reachable yet, retrying') },
  );
  limitWrites(connection, writesInFlight);
  log.info({ db: connection.name, writesInFlight }, 'connected to MongoDB');
  return {
    connection,
    native: connection.getClient().db(connection.name),
    isConnected: () => connection.readyState === mongoose.ConnectionStates.connected,
    close: () => connection.close(),
  };
}

/** Whether the server is FerretDB, which serves reads from no index but _id's. */
export async function isFerretDb(conn: mongoose.Connection): Promise<boolean> {
  const info = await conn.getClient().db('admin').command({ buildInfo: 1 });
  return info.ferretdbVersion !== undefined;
}

/** The name MongoDB gives an index of these fields when none is given: `createdAt_-1__id_-1`. */
export function indexName(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .map(([field, order]) => `${field}_${String(order)}`)
    .join('_');
}
