import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createLogger } from '../../src/log';
import type { Service } from '../../src/service';
import { backup } from '../../src/tools/backup';
import { restore } from '../../src/tools/restore';
import {
  busClient,
  createOrder,
  eventually,
  newUser,
  sessionCookie,
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
    const peer = await busClient(nats);
    const user = newUser();
    const order = await createOrder(peer, service, { userId: user.id });
    await peer.close();

    await nats.stop();
    await eventually(async () => !service.bus.isConnected());
    const paid = await request(service.app)
      .post('/api/payments')
      .set('Cookie', sessionCookie(user))
      .send({ token: 'tok_visa', orderId: order.id });
    expect(paid.status).toBe(201);
    await service.stop();

    const { file } = await backup({ uri: `${process.env.TEST_MONGO_URI}/${db}`, out: dir, log });
    const restoredDb = uniqueName('resume_dst');
    await restore({ uri: `${process.env.TEST_MONGO_URI}/${restoredDb}`, file, log });

    await nats.start();
    const { service: resumed } = await startTestService({ nats, db: restoredDb });
    services.push(resumed);
    const events = await eventually(async () => {
      const stored = (await storedMessages(nats, 'payment:created')) as { id: string }[];
      return stored.length > 0 && stored;
    }, 15_000);
    expect(events).toEqual([expect.objectContaining({ id: paid.body.id, orderId: order.id })]);
  });
});
