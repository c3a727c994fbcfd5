import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import mongoose from 'mongoose';
import { connectDb } from '../db/connect';
import type { Clock } from '../domain/ports';
import { createLogger, type Logger } from '../log';
import { loadToolConfig } from './tool-config';
import { runTool, UsageError } from './cli';
import {
  COLLECTIONS,
  DumpError,
  FORMAT,
  dumpLine,
  dumpName,
  manifestPathOf,
  parseDumpName,
  toolVersion,
  type CollectionName,
  type Manifest,
} from './dump-file';

/*
 * What "consistent" means here. The storage may be FerretDB, which has neither
 * transactions nor snapshot reads, so a dump is not a point-in-time image of
 * the database. It is this: every document is written atomically and read
 * whole; payments are never deleted, only appended and moved forward through
 * their statuses (a pending one leaves payments_pending, read first, only once
 * it is in payments); each collection is read along its _id index, in which an
 * update never moves a document. So a dump taken while the service
 * runs holds every payment that existed when it started, each in a state it
 * really had at some moment of the run. Orders and idempotency keys are read
 * after the payments and are just as per-document consistent. Where the server
 * supports it we read with readConcern "majority", so nothing later rolled back
 * by a replica-set failover gets into a dump.
 */

export interface BackupOptions {
  uri: string;
  out: string;
  /** After a successful dump, keep only the newest `keep` dumps in `out`. */
  keep?: number;
  clock?: Clock;
  log?: Logger;
  connectTimeoutMs?: number;
}

export interface BackupResult {
  file: string;
  manifestFile: string;
  manifest: Manifest;
  /** Names of the older files `keep` removed. */
  deleted: string[];
}

type ReadConcern = Manifest['readConcern'];

export async function backup(opts: BackupOptions): Promise<BackupResult> {
  if (opts.keep !== undefined && !(Number.isSafeInteger(opts.keep) && opts.keep >= 1)) {
    throw new RangeError(`keep must be a whole number of at least 1, not ${opts.keep}`);
  }
  const clock = opts.clock ?? { now: () => new Date() };
  const log = opts.log ?? createLogger({ level: 'silent' });
  const startedAt = clock.now();
  const file = join(opts.out, dumpName(startedAt));
  const manifestFile = manifestPathOf(file);
  await mkdir(opts.out, { recursive: true });
  for (const path of [file, manifestFile]) {
    if (await exists(path)) throw new DumpError(`${path} already exists: one dump per second at most`, 'exists');
  }

  const db = await connectDb(opts.uri, log, opts.connectTimeoutMs ?? 30_000);
  let manifest: Manifest;
  try {
    const native = db.connection.getClient().db(db.connection.name);
    const readConcern = await pickReadConcern(native, log);
    const written = await writeDump(native, readConcern, file);
    manifest = {
      format: FORMAT,
      file: basename(file),
      sha256: written.sha256,
      bytes: written.bytes,
      database: db.connection.name,
      collections: written.counts,
      readConcern,
      tool: { name: 'ticketing-payments backup', version: toolVersion() },
      startedAt: startedAt.toISOString(),
      finishedAt: clock.now().toISOString(),
    };
  } finally {
    await db.close();
  }
  // The manifest goes last: a dump without one is incomplete, and restore refuses it.
  await writeAtomically(manifestFile, (path) =>
    writeFile(path, `${JSON.stringify(manifest, null, 2)}\n`, { flag: 'wx' }),
  );
  log.info({ file, collections: manifest.collections, sha256: manifest.sha256 }, 'backup written');

  const deleted = opts.keep === undefined ? [] : await prune(opts.out, opts.keep);
  if (deleted.length > 0) log.info({ deleted }, 'old backups deleted');
  return { file, manifestFile, manifest, deleted };
}

/** FerretDB accepts and ignores read concerns; an old mongod without majority reads refuses them. */
async function pickReadConcern(db: mongoose.mongo.Db, log: Logger): Promise<ReadConcern> {
  try {
    await db.command({
      find: COLLECTIONS[0],
      filter: {},
      limit: 1,
      singleBatch: true,
      readConcern: { level: 'majority' },
    });
    return 'majority';
  } catch (err) {
    if (!(err instanceof mongoose.mongo.MongoServerError)) throw err;
    log.debug({ err }, 'readConcern majority refused, reading with the server default');
    return 'server default';
  }
}

async function writeDump(db: mongoose.mongo.Db, readConcern: ReadConcern, file: string) {
  const counts = Object.fromEntries(COLLECTIONS.map((c) => [c, 0])) as Record<CollectionName, number>;
  const hash = createHash('sha256');
  let bytes = 0;
  async function* lines() {
    for (const name of COLLECTIONS) {
      const collection = db.collection(name, readConcern === 'majority' ? { readConcern: { level: 'majority' } } : {});
      // Without promoteValues: false a Double 5.0 would come back as 5 and be written as an Int32.
      const cursor = collection.find({}, { sort: { _id: 1 }, promoteValues: false, bsonRegExp: true });
      for await (const doc of cursor) {
        counts[name] += 1;
        yield Buffer.from(dumpLine(name, doc));
      }
    }
  }
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await writeAtomically(file, (path) => pipeline(lines(), createGzip(), tap, createWriteStream(path, { flags: 'wx' })));
  return { counts, sha256: hash.digest('hex'), bytes };
}

/** Writes to a hidden temporary name, syncs, then renames: a crash never leaves a complete-looking file. */
async function writeAtomically(path: string, write: (tmp: string) => Promise<void>): Promise<void> {
  // Hidden and unique to this run: a run that dies leaves nothing a restore or another run would take.
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.partial`);
  try {
    await write(tmp);
    await sync(tmp);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await sync(dirname(path));
}

async function sync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Deletes every file of the runs older than the `keep` newest complete dumps,
 * manifest first, so that a dump never looks complete without its data; the
 * leftovers of runs that died go with them.
 */
async function prune(dir: string, keep: number): Promise<string[]> {
  const runs = new Map<string, { name: string; kind: string }[]>();
  for (const name of await readdir(dir)) {
    const parsed = parseDumpName(name);
    if (parsed) runs.set(parsed.stamp, [...(runs.get(parsed.stamp) ?? []), { name, kind: parsed.kind }]);
  }
  const complete = [...runs]
    .filter(([, files]) => ['dump', 'manifest'].every((k) => files.some((f) => f.kind === k)))
    .map(([stamp]) => stamp)
    .sort();
  const oldestKept = complete[complete.length - keep];
  if (oldestKept === undefined) return [];
  const order = ['manifest', 'dump', 'partial'];
  const doomed = [...runs]
    .filter(([stamp]) => stamp < oldestKept)
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([, files]) => files.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind)).map((f) => f.name));
  for (const name of doomed) await rm(join(dir, name), { force: true });
  return doomed;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
}

const USAGE = 'usage: node dist/tools/backup.js --out DIR [--keep N]   (reads MONGO_URI or MONGO_URL)';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, keep: { type: 'string' } } });
  if (!values.out) throw new UsageError('--out DIR is required');
  if (values.keep !== undefined && !/^[1-9]\d*$/.test(values.keep)) {
    throw new UsageError(`--keep takes a whole number of at least 1, not "${values.keep}"`);
  }
  const config = loadToolConfig(process.env);
  await backup({
    uri: config.mongoUri,
    out: values.out,
    ...(values.keep !== undefined && { keep: Number(values.keep) }),
    log: createLogger({ level: config.logLevel }),
  });
}

if (require.main === module) runTool('backup', USAGE, main);
