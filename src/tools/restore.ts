import { parseArgs } from 'node:util';
import mongoose from 'mongoose';
import { DERIVED } from '../db/collections';
import { connectDb } from '../db/connect';
import { createLogger, type Logger } from '../log';
import { loadToolConfig } from './tool-config';
import { runTool, UsageError } from './cli';
import {
  DumpError,
  manifestPathOf,
  readDump,
  readManifest,
  sha256File,
  type CollectionName,
  type Document,
  type Manifest,
} from './dump-file';

export interface RestoreOptions {
  uri: string;
  /** The .jsonl.gz dump; its manifest sits next to it. */
  file: string;
  /** Drops the dump's collections first; without it, restore refuses collections that hold anything. */
  drop?: boolean;
  batchSize?: number;
  log?: Logger;
  connectTimeoutMs?: number;
}

type Counts = Partial<Record<CollectionName, number>>;

/**
 * Restores a dump into the database of `uri`. Everything that can be checked
 * without the database (checksum, every line, the counts) is checked before
 * the first write. Indexes are not in the dump: the service builds them at boot.
 */
export async function restore(opts: RestoreOptions): Promise<{ manifest: Manifest; counts: Counts }> {
  const log = opts.log ?? createLogger({ level: 'silent' });
  const manifest = await readManifest(manifestPathOf(opts.file));
  await verify(opts.file, manifest);
  const names = Object.keys(manifest.collections) as CollectionName[];

  const db = await connectDb(opts.uri, log, opts.connectTimeoutMs ?? 30_000);
  try {
    const native = db.connection.getClient().db(db.connection.name);
    const before = await countAll(native, names);
    const occupied = names.filter((n) => (before[n] ?? 0) > 0);
    if (occupied.length > 0 && !opts.drop) {
      const list = occupied.map((n) => `${n} (${before[n]})`).join(', ');
      throw new DumpError(`refusing to restore into non-empty collections ${list}; --drop replaces them`, 'not_empty');
    }
    if (opts.drop) {
      for (const name of names) await dropIfExists(native, name);
    }
    // Derived from what was there before: the service derives it again from what is restored.
    for (const name of DERIVED) await dropIfExists(native, name);
    await insertAll(native, opts.file, opts.batchSize ?? 1000);
    const after = await countAll(native, names);
    const wrong = names.filter((n) => after[n] !== manifest.collections[n]);
    if (wrong.length > 0) {
      const list = wrong.map((n) => `${n}: ${after[n]} instead of ${manifest.collections[n]}`).join(', ');
      throw new DumpError(`restored counts do not match the manifest (${list})`, 'count_mismatch');
    }
    log.info({ file: opts.file, database: db.connection.name, collections: after }, 'backup restored');
    return { manifest, counts: after };
  } finally {
    await db.close();
  }
}

async function verify(file: string, manifest: Manifest): Promise<void> {
  const { sha256, bytes } = await sha256File(file).catch((err: Error) => {
    throw new DumpError(`cannot read ${file}: ${err.message}`, 'corrupt', { cause: err });
  });
  if (sha256 !== manifest.sha256 || bytes !== manifest.bytes) {
    throw new DumpError(
      `${file} is corrupt or truncated: ${bytes} bytes with sha256 ${sha256}, the manifest says ` +
        `${manifest.bytes} bytes with sha256 ${manifest.sha256}; nothing was restored`,
      'corrupt',
    );
  }
  const counted: Counts = {};
  for await (const { collection } of readDump(file)) counted[collection] = (counted[collection] ?? 0) + 1;
  for (const name of new Set([...Object.keys(counted), ...Object.keys(manifest.collections)]) as Set<CollectionName>) {
    if ((counted[name] ?? 0) !== manifest.collections[name]) {
      throw new DumpError(
        `${file} holds ${counted[name] ?? 0} ${name} documents, the manifest says ${manifest.collections[name] ?? 0}`,
        'corrupt',
      );
    }
  }
}

async function countAll(db: mongoose.mongo.Db, names: CollectionName[]): Promise<Counts> {
  const counts: Counts = {};
  for (const name of names) counts[name] = await db.collection(name).countDocuments({});
  return counts;
}

async function dropIfExists(db: mongoose.mongo.Db, name: string): Promise<void> {
  try {
    await db.collection(name).drop();
  } catch (err) {
    // MongoDB before 7.0 answers NamespaceNotFound for a collection that is not there.
    if (!(err instanceof mongoose.mongo.MongoServerError && err.code === 26)) throw err;
  }
}

async function insertAll(db: mongoose.mongo.Db, file: string, batchSize: number): Promise<void> {
  const batches = new Map<CollectionName, Document[]>();
  const flush = async (name: CollectionName) => {
    const docs = batches.get(name) ?? [];
    batches.set(name, []);
    if (docs.length > 0) await db.collection(name).insertMany(docs, { ordered: true });
  };
  for await (const { collection, doc } of readDump(file)) {
    const batch = batches.get(collection) ?? [];
    batch.push(doc);
    batches.set(collection, batch);
    if (batch.length >= batchSize) await flush(collection);
  }
  for (const name of batches.keys()) await flush(name);
}

const USAGE = 'usage: node dist/tools/restore.js --file PATH [--drop]   (reads MONGO_URI or MONGO_URL)';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { file: { type: 'string' }, drop: { type: 'boolean' } } });
  if (!values.file) throw new UsageError('--file PATH is required');
  const config = loadToolConfig(process.env);
  await restore({
    uri: config.mongoUri,
    file: values.file,
    drop: values.drop ?? false,
    log: createLogger({ level: config.logLevel }),
  });
}

if (require.main === module) runTool('restore', USAGE, main);
