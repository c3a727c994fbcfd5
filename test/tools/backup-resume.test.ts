import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/log';
import type { Service } from '../../src/service';
import { backup } from '../../src/tools/backup';
import { restore } from '../../src/tools/restore';
import {
  eventually,
  leftPending,
  newId,
  newUser,
  payWithBusStopped,
  startTestService,
  uniqueName,
} from '../support/harness';
import { storedMessages } from '../support/nats-monitor';
import { startBusServer, type BusServer } from '../support/servers';

const log = createLogger({ level: 'silent' });
let nats: BusServer;
const dir = mkdtempSync(join(tmpdir(), 'payments-resume-'));
const services: Service[] = [];

beforeAll(async () => {
  nats = await startBusServer({ fileStore: true });
});

afterAll(async () => {
  for (const s of services) await s.stop();
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a backup holds everything needed to resume', () => {
  test('an event not yet published when the dump was taken is published by a service started on the restore', async () => {
    const db = uniqueName('resume_src');
    const { service } = await startTestService({ nats, db });
    services.push(service);
    const { order, res: paid } = await payWithBusStopped(nats, service);
    expect(paid.status).toBe(201);
    await service.stop();

    const { file } = await backup({ uri: `${process.env.TEST_MONGO_URI}/${db}`, out: dir, log });
    const restoredDb = uniqueName('resume_dst');
    await restore({ uri: `${process.env.TEST_MONGO_URI}/${restoredDb}`, file, log });

    await nats.start();
    const { service: resumed } = await startTestService({ nats, db: restoredDb });
    services.push(resumed);
    // Counted once nothing is left to send, so that a second copy would be counted too.
    await eventually(async () => (await storedMessages(nats, 'payment:created')).length > 0, 15_000);
    await resumed.stores.payments.idle();
    await eventually(async () => (await resumed.outbox.backlog()) === 0);
    const events = (await storedMessages(nats, 'payment:created')) as { id: string }[];
    expect(events).toEqual([expect.objectContaining({ id: paid.body.id, orderId: order.id })]);
  });

  test('a payment pending when the dump was taken is settled by a service started on the restore', async () => {
    const db = uniqueName('resume_src');
    const { service } = await startTestService({ nats, db });
    const pending = await leftPending(service, { orderId: newId(), userId: newUser().id, amount: 1200 });
    await service.stop();
    const { file } = await backup({ uri: `${process.env.TEST_MONGO_URI}/${db}`, out: join(dir, 'pending'), log });

    // Restored over a database a service ran on: what that service listed as pending goes with the rest.
    const restoredDb = uniqueName('resume_dst');
    const { service: earlier } = await startTestService({ nats, db: restoredDb });
    await earlier.stop();
    await restore({ uri: `${process.env.TEST_MONGO_URI}/${restoredDb}`, file, log, drop: true });

    const { service: resumed } = await startTestService({ nats, db: restoredDb });
    services.push(resumed);
    await resumed.reconciler.runOnce();
    expect(await resumed.stores.payments.load(pending.id)).toMatchObject({ status: 'succeeded', dueAt: null });
  });
});
