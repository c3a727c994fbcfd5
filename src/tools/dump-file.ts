import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import mongoose from 'mongoose';
import { z } from 'zod';
import { COLLECTIONS, type CollectionName } from '../db/collections';

export const { EJSON } = mongoose.mongo.BSON;
export type Document = mongoose.mongo.Document;

/**
 * Read in the order db/collections.ts gives. Payments first (the pending ones, then
 * the settled ones: a pending payment leaves its collection only once it is in the
 * other): the collection the law asks for is read closest to the start time. Their changes after them, so
 * every change behind a dumped payment is in the dump. Orders after those: every
 * payment's order is older than the payment and orders are never deleted. The
 * outbox after the changes: every message of a dumped change that was not yet
 * delivered when the outbox was read is in the dump, so a restore sends it.
 */
export { COLLECTIONS, type CollectionName } from '../db/collections';

export const FORMAT = 'payments-backup/1';

const STAMP = /^(\.?)payments-(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ)\.(jsonl\.gz|manifest\.json)(\.[0-9a-f]+\.partial)?$/;

/** `payments-2026-11-23T10-00-00Z.jsonl.gz`: names sort in time order. */
export function dumpName(at: Date): string {
  return `payments-${at
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/:/g, '-')}.jsonl.gz`;
}

export function manifestPathOf(dumpPath: string): string {
  if (!dumpPath.endsWith('.jsonl.gz')) throw new DumpError(`${dumpPath} is not a .jsonl.gz dump`, 'bad_name');
  return dumpPath.replace(/\.jsonl\.gz$/, '.manifest.json');
}

/** The timestamp and kind of a file this tool wrote (a partial one: a run that died), or null for any other file. */
export function parseDumpName(name: string): { stamp: string; kind: 'dump' | 'manifest' | 'partial' } | null {
  const m = STAMP.exec(name);
  if (!m?.[2] || Boolean(m[1]) !== Boolean(m[4])) return null;
  return { stamp: m[2], kind: m[4] ? 'partial' : m[3] === 'jsonl.gz' ? 'dump' : 'manifest' };
}

const manifestSchema = z.object({
  format: z.literal(FORMAT),
  file: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  database: z.string(),
  collections: z.record(z.enum(COLLECTIONS), z.number().int().nonnegative()),
  readConcern: z.enum(['majority', 'server default']),
  tool: z.object({ name: z.string(), version: z.string() }),
  startedAt: z.string().datetime(),
  finishedAt: z.string().datetime(),
});
export type Manifest = z.infer<typeof manifestSchema>;

/** A dump that must not be written or restored; the message says why and what was left untouched. */
export class DumpError extends Error {
  override name = 'DumpError';
  constructor(
    message: string,
    readonly code: 'corrupt' | 'bad_manifest' | 'bad_name' | 'exists' | 'not_empty' | 'count_mismatch',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export async function readManifest(path: string): Promise<Manifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new DumpError(`cannot read the manifest ${path}: ${(err as Error).message}`, 'bad_manifest', { cause: err });
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new DumpError(`the manifest ${path} is not valid (${issues})`, 'bad_manifest');
  }
  return parsed.data;
}

export async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** One line of the dump, in canonical Extended JSON so that every BSON type comes back as it was. */
export function dumpLine(collection: CollectionName, doc: Document): string {
  return `${EJSON.stringify({ collection, doc }, { relaxed: false })}\n`;
}

/** Reads a dump back line by line; a line that is not a dumped document is a corrupt file. */
export async function* readDump(path: string): AsyncGenerator<{ collection: CollectionName; doc: Document }> {
  const file = createReadStream(path);
  const gunzip = createGunzip();
  file.on('error', (err) => gunzip.destroy(err));
  gunzip.setEncoding('utf8');
  file.pipe(gunzip);
  let rest = '';
  let lineNo = 0;
  const parse = (line: string) => {
    lineNo += 1;
    try {
      const entry = EJSON.parse(line, { relaxed: false }) as { collection?: unknown; doc?: unknown };
      if (COLLECTIONS.includes(entry.collection as CollectionName) && isDoc(entry.doc)) {
        return { collection: entry.collection as CollectionName, doc: entry.doc };
      }
    } catch {
      // reported below with the line number
    }
    throw new DumpError(`${path}: line ${lineNo} is not a dumped document`, 'corrupt');
  };
  try {
    for await (const chunk of gunzip as AsyncIterable<string>) {
      rest += chunk;
      let end: number;
      while ((end = rest.indexOf('\n')) >= 0) {
        yield parse(rest.slice(0, end));
        rest = rest.slice(end + 1);
      }
    }
  } catch (err) {
    if (err instanceof DumpError) throw err;
    throw new DumpError(`${path} cannot be read: ${(err as Error).message}`, 'corrupt', { cause: err });
  } finally {
    file.destroy();
    gunzip.destroy();
  }
  if (rest !== '') yield parse(rest);
}

function isDoc(v: unknown): v is Document {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && '_id' in v;
}

/** The service's version, written into each manifest: which code wrote a dump matters in an audit. */
export function toolVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(`${__dirname}/../../package.json`, 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
