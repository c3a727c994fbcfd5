import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import mongoose, { Types } from 'mongoose';
import { connectDb, type Db } from '../../src/db/connect';
import { createDeadDeliveryStore } from '../../src/db/dead-deliveries';
import { createDeadLetterStore } from '../../src/db/dead-letters';
import { createIdempotencyStore } from '../../src/db/idempotency';
import { createOrderStore } from '../../src/db/orders';
import { createOutboxStore } from '../../src/db/outbox';
import { createPaymentStore } from '../../src/db/payments';
import {
  apply,
  fail,
  paymentIdFor,
  start,
  succeed,
  type Change,
  type Payment,
  type PaymentEvent,
} from '../../src/domain/payment';
import { messagesFor } from '../../src/events/publications';
import { createLogger } from '../../src/log';
import { backup } from '../../src/tools/backup';
import { loadToolConfig } from '../../src/tools/tool-config';
import { COLLECTIONS, EJSON, manifestPathOf, readManifest, sha256File } from '../../src/tools/dump-file';
import { restore } from '../../src/tools/restore';
import { newId, uniqueName } from '../support/harness';

const { Double, Int32, Long } = mongoose.mongo;
const ROOT = join(__dirname, '..', '..');
const log = createLogger({ level: 'silent' });
const uriOf = (db: string) => `${process.env.TEST_MONGO_URI}/${db}`;

const opened: Db[] = [];
const dirs: string[] = [];
const newDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'payments-backup-'));
  dirs.push(dir);
  return dir;
};
async function database(name = uniqueName('backup')) {
  const db = await connectDb(uriOf(name), log, 10000);
  opened.push(db);
  return { name, uri: uriOf(name), db, native: db.connection.getClient().db(name) };
}

afterAll(async () => {
  for (const db of opened) {
    await db.connection.dropDatabase();
    await db.close();
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Each collection as canonical Extended JSON, read the way the backup reads it: every BSON type kept. */
async function snapshot(native: mongoose.mongo.Db) {
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const name of COLLECTIONS) {
    const docs = await native
      .collection(name)
      .find({}, { sort: { _id: 1 }, promoteValues: false })
      .toArray();
    out[name] = docs.map((d) => EJSON.serialize(d, { relaxed: false }));
  }
  return out;
}

/** What the service itself writes, through its own stores, plus one document with the rarer number types. */
async function fill(conn: mongoose.Connection) {
  const at = new Date('2026-11-23T09:59:58.123Z');
  const later = new Date(at.getTime() + 1500);
  const outbox = createOutboxStore(conn);
  // No dispatcher runs here: every event stays in the outbox, as when the bus is away.
  const dispatch = async (p: Payment, events: PaymentEvent[]) => {
    await outbox.add(
      messagesFor(p, events).map((m) => ({ ...m, attempts: 0, createdAt: later, nextAttemptAt: later })),
    );
  };
  const payments = createPaymentStore(conn, {
    consequences: { dispatch },
    clock: { now: () => later },
    log: createLogger({ level: 'silent' }),
  });
  const orders = createOrderStore(conn);
  const keys = createIdempotencyStore(conn, { ttlMs: 86_400_000, lockMs: 30_000 });
  const deadLetters = createDeadLetterStore(conn);
  const deadDeliveries = createDeadDeliveryStore(conn);
  await Promise.all([outbox, payments, orders, keys, deadLetters, deadDeliveries].map((s) => s.init()));

  const userId = newId();
  const orderIds = [newId(), newId(), newId(), newId()];
  for (const [i, id] of orderIds.entries()) {
    await orders.add({
      id,
      version: i,
      status: 'created',
      userId,
      amount: 2000 + i * 1999,
      currency: 'usd',
      paidBy: null,
      arrived: true,
    });
  }
  await orders.cancel(orderIds[3] as string, 4);

  const begin = async (orderId: string, amount: number, requestKey: string | null) => {
    const p = start({
      id: paymentIdFor(orderId, 0),
      orderId,
      userId,
      amount,
      currency: 'usd',
      source: 'tok_visa',
      requestKey,
      at,
      dueAt: later,
    });
    if (!(await payments.start(p))) throw new Error(`order ${orderId} already has a payment`);
    return p;
  };
  const settle = async (p: Payment, change: Change) => {
    if (!(await payments.record(change, apply(p, change)))) throw new Error(`payment ${p.id} already changed`);
    await payments.idle();
  };
  const paid = await begin(orderIds[0] as string, 2000, 'key-paid');
  await settle(paid, succeed(paid, 'ch_3Nabc123', later));
  const declined = await begin(orderIds[1] as string, 3999, null);
  await settle(declined, fail(declined, 'Your card was declined.', later));
  await begin(orderIds[2] as string, 5998, null);

  await keys.begin('key-paid', 'sha256-of-request', at);
  await keys.complete('key-paid', 201, { id: paid.id, status: 'succeeded', amount: 2000, history: [{ at: later }] });
  await keys.begin('key-in-flight', 'sha256-of-other', at);
  await deadLetters.park({
    id: 'order:cancelled#17',
    subject: 'order:cancelled',
    payload: '{"id":"6650c3f2a1b2c3d4e5f60718","version":1}',
    reason: 'Order 6650c3f2a1b2c3d4e5f60718 not seen yet (after 20 deliveries over 95 s)',
    deliveries: 20,
    publishedAt: at,
    parkedAt: later,
  });
  await deadDeliveries.add({
    id: 'callback:0123456789ab:0b0f5b5e-3c1e-4c49-9a8e-2f7f0c6a1d11',
    messageId: '0b0f5b5e-3c1e-4c49-9a8e-2f7f0c6a1d11',
    destination: 'callback:0123456789ab',
    url: 'https://orders.example/callbacks',
    subject: 'payment:created',
    key: orderIds[0] as string,
    payload: { type: 'payment:created', timestamp: later.toISOString(), data: { id: paid.id, amount: 2000 } },
    attempts: 9,
    lastError: 'receiver answered 500',
    lastStatus: 500,
    createdAt: at,
    diedAt: later,
  });

  await conn.collection('payments').insertOne({
    _id: new Types.ObjectId(),
    orderId: new Types.ObjectId(),
    amount: Long.fromString('9007199254740993'),
    fee: new Double(30),
    attempts: new Int32(2),
    rate: 0.029,
    refunded: false,
    chargeId: null,
    history: [
      { status: 'pending', at: new Date(0) },
      { status: 'succeeded', at },
    ],
    meta: { tags: [], nested: { deep: [{ n: 1 }, 'two', {}] } },
  });
}

let source: Awaited<ReturnType<typeof database>>;
let original: Awaited<ReturnType<typeof snapshot>>;

beforeAll(async () => {
  source = await database();
  await fill(source.db.connection);
  original = await snapshot(source.native);
});

describe('backup and restore of the payments collections', () => {
  test('a dump restored into an emptied database gives back every document, field by field', async () => {
    const out = newDir();
    const { file, manifest } = await backup({ uri: source.uri, out, log });

    expect(file).toMatch(/\/payments-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.jsonl\.gz$/);
    expect(manifest.collections).toEqual({
      payments_pending: 1, // started, not settled
      payments: 3,
      payment_changes: 5, // three starts and two later changes
      orders: 4,
      outbox: 4, // two events, each with its notification
      dead_deliveries: 1,
      dead_letters: 1,
      idempotency_keys: 2,
      provider_events: 0,
    });
    expect(manifest.sha256).toBe((await sha256File(file)).sha256);
    expect(await readManifest(manifestPathOf(file))).toEqual(manifest);
    expect(readdirSync(out).sort()).toEqual([manifest.file, manifest.file.replace('.jsonl.gz', '.manifest.json')]);
    // The fixture really holds the types a relaxed dump would lose.
    expect(JSON.stringify(original.payments)).toContain('{"$numberDouble":"30.0"}');
    expect(JSON.stringify(original.payments)).toContain('{"$numberLong":"9007199254740993"}');

    await source.native.dropDatabase();
    expect(await source.native.collection('payments').countDocuments()).toBe(0);
    const { counts } = await restore({ uri: source.uri, file, log });

    expect(counts).toEqual(manifest.collections);
    const restored = await snapshot(source.native);
    expect(restored).toEqual(original);
    expect(JSON.stringify(restored)).toBe(JSON.stringify(original));
  });

  test('a dump with a flipped byte or cut short is refused before anything is written', async () => {
    const { file } = await backup({ uri: source.uri, out: newDir(), log });
    const target = await database();
    const bytes = readFileSync(file);

    const flipped = join(newDir(), 'payments-2026-11-23T10-00-00Z.jsonl.gz');
    copyFileSync(manifestPathOf(file), manifestPathOf(flipped));
    const copy = Buffer.from(bytes);
    const middle = copy.length >> 1;
    copy.writeUInt8(copy.readUInt8(middle) ^ 0x01, middle);
    writeFileSync(flipped, copy);
    await expect(restore({ uri: target.uri, file: flipped, log })).rejects.toMatchObject({
      code: 'corrupt',
      message: expect.stringMatching(/corrupt or truncated.*nothing was restored/),
    });

    writeFileSync(flipped, bytes.subarray(0, bytes.length - 10));
    await expect(restore({ uri: target.uri, file: flipped, drop: true, log })).rejects.toMatchObject({
      code: 'corrupt',
    });
    expect(await target.native.listCollections().toArray()).toEqual([]);
  });

  test('a dump whose lines do not add up to its manifest is refused, even with a matching checksum', async () => {
    const { file, manifest } = await backup({ uri: source.uri, out: newDir(), log });
    const lines = gunzipSync(readFileSync(file)).toString().split('\n');
    const forged = join(newDir(), 'payments-2026-11-23T10-00-00Z.jsonl.gz');
    writeFileSync(forged, gzipSync(lines.slice(1).join('\n')));
    const { sha256, bytes } = await sha256File(forged);
    writeFileSync(manifestPathOf(forged), JSON.stringify({ ...manifest, sha256, bytes }));
    const target = await database();

    await expect(restore({ uri: target.uri, file: forged, log })).rejects.toMatchObject({
      code: 'corrupt',
      message: expect.stringContaining('holds 0 payments_pending documents, the manifest says 1'),
    });
    expect(await target.native.listCollections().toArray()).toEqual([]);
  });

  test('refuses to restore into non-empty collections unless told to drop them', async () => {
    const { file } = await backup({ uri: source.uri, out: newDir(), log });
    const target = await database();
    const stray = { _id: new Types.ObjectId(), status: 'created', note: 'written after the dump' };
    await target.native.collection('orders').insertOne(stray);

    await expect(restore({ uri: target.uri, file, log })).rejects.toMatchObject({
      code: 'not_empty',
      message: expect.stringContaining('orders (1)'),
    });
    expect(await target.native.collection('orders').find().toArray()).toEqual([stray]);
    expect(await target.native.collection('payments').countDocuments()).toBe(0);

    await restore({ uri: target.uri, file, drop: true, log });
    expect(await snapshot(target.native)).toEqual(original);
  });

  test('--keep 2 after three runs leaves the two newest dumps with their manifests and other files alone', async () => {
    const out = newDir();
    writeFileSync(join(out, 'notes.txt'), 'not a dump');
    const run = (second: number, keep: number) => {
      const at = new Date(Date.UTC(2026, 10, 23, 10, 0, second));
      return backup({ uri: source.uri, out, keep, log, clock: { now: () => at } });
    };
    await run(0, 2);
    await run(1, 2);
    writeFileSync(join(out, '.payments-2026-11-23T09-00-00Z.jsonl.gz.0badc0de.partial'), 'a run that died');
    const third = await run(2, 2);

    expect(third.deleted).toEqual([
      '.payments-2026-11-23T09-00-00Z.jsonl.gz.0badc0de.partial',
      'payments-2026-11-23T10-00-00Z.manifest.json',
      'payments-2026-11-23T10-00-00Z.jsonl.gz',
    ]);
    expect(readdirSync(out).sort()).toEqual([
      'notes.txt',
      'payments-2026-11-23T10-00-01Z.jsonl.gz',
      'payments-2026-11-23T10-00-01Z.manifest.json',
      'payments-2026-11-23T10-00-02Z.jsonl.gz',
      'payments-2026-11-23T10-00-02Z.manifest.json',
    ]);
    await expect(run(2, 2)).rejects.toMatchObject({ code: 'exists' });
  });
});

function cli(tool: 'backup' | 'restore', args: string[], env: Record<string, string | undefined>) {
  return new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn('npx', ['tsx', `src/tools/${tool}.ts`, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

describe('the backup and restore commands', () => {
  test('take MONGO_URI or MONGO_URL and name every bad key at once', () => {
    expect(loadToolConfig({ MONGO_URL: 'mongodb://db:27017/payments' })).toEqual({
      mongoUri: 'mongodb://db:27017/payments',
      logLevel: 'info',
    });
    expect(() => loadToolConfig({ MONGO_URI: 'db:27017', LOG_LEVEL: 'loud' })).toThrow(
      /MONGO_URI: must be a mongodb:\/\/ or mongodb\+srv:\/\/ URI\n {2}LOG_LEVEL: /,
    );
  });

  // The tools must see only the database this test gives them.
  const env = (extra: Record<string, string> = {}) => ({
    ...process.env,
    MONGO_URI: undefined,
    MONGO_URL: undefined,
    LOG_LEVEL: 'silent',
    ...extra,
  });

  test('exit 0 with a dump written, 1 on bad configuration or a corrupt file, 2 on bad arguments', async () => {
    const out = newDir();
    const ok = await cli('backup', ['--out', out, '--keep', '1'], env({ MONGO_URI: source.uri }));
    expect(ok).toMatchObject({ code: 0 });
    const [dump] = readdirSync(out).filter((n) => n.endsWith('.jsonl.gz'));
    expect(readdirSync(out)).toHaveLength(2);

    const noUri = await cli('backup', ['--out', out], env({ LOG_LEVEL: 'loud' }));
    expect(noUri.code).toBe(1);
    expect(noUri.stderr).toContain('MONGO_URI: is required (or MONGO_URL)');
    expect(noUri.stderr).toContain('LOG_LEVEL: Invalid option');

    const badKeep = await cli('backup', ['--out', out, '--keep', '0'], env({ MONGO_URI: source.uri }));
    expect(badKeep.code).toBe(2);
    expect(badKeep.stderr).toContain('--keep takes a whole number of at least 1');

    const file = join(out, dump as string);
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 1));
    const target = await database();
    const corrupt = await cli('restore', ['--file', file], env({ MONGO_URI: target.uri }));
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toContain('is corrupt or truncated');
    expect(await target.native.listCollections().toArray()).toEqual([]);
  });
});
