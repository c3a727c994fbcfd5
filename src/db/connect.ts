import mongoose, { type Model } from 'mongoose';
import type { Logger } from '../log';
import { retry } from '../retry';

export interface Db {
  connection: mongoose.Connection;
  isConnected(): boolean;
  close(): Promise<void>;
}

/** Connects with backoff for at most `timeoutMs`, then gives up: the service never serves without its database. */
export async function connectDb(uri: string, log: Logger, timeoutMs: number): Promise<Db> {
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
  log.info({ db: connection.name }, 'connected to MongoDB');
  return {
    connection,
    isConnected: () => connection.readyState === mongoose.ConnectionStates.connected,
    close: () => connection.close(),
  };
}

function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}

/**
 * Inserts the document unless its unique key is taken: true when this call
 * wrote it. The one race-free decision both MongoDB and FerretDB v1 offer (the
 * latter applies a conditional update as a read then a separate write).
 */
export async function insertOnce<T>(model: Model<T>, doc: Partial<T>): Promise<boolean> {
  try {
    await model.create(doc);
    return true;
  } catch (err) {
    if (isDuplicateKey(err)) return false;
    throw err;
  }
}
