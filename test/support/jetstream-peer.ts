import { DEFAULT_QUEUE_GROUP } from '../../src/config';
import { jetstream, jetstreamManager, type ConsumerMessages } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { consumerName, ensureStream } from '../../src/events/jetstream-bus';
import type { Subject } from '../../src/events/subjects';
import type { BusServer } from './servers';

// The settings the tests leave at their defaults.
const STREAM = 'ticketing';
const QUEUE_GROUP = DEFAULT_QUEUE_GROUP;

const open = (server: BusServer, name: string) => connect({ servers: server.url, name, maxReconnectAttempts: -1 });

/** Another ticketing service on JetStream: it publishes as they would (no message id) and reads every subject asked for. */
export async function jetStreamPeer(
  server: BusServer,
  name: string,
  subjects: Subject[],
  onMessage: (subject: string, data: string) => void,
) {
  const nc = await open(server, name);
  // Whoever comes first makes the stream, as in a cluster where the orders service may start first.
  await ensureStream(await jetstreamManager(nc), { stream: STREAM, manageStream: true });
  const js = jetstream(nc);
  const reading: ConsumerMessages[] = [];
  for (const subject of subjects) {
    const messages = await (await js.consumers.get(STREAM, { filter_subjects: subject })).consume();
    reading.push(messages);
    void (async () => {
      for await (const m of messages) onMessage(subject, m.string());
    })();
  }
  return {
    async publish(subject: Subject, payload: string): Promise<void> {
      await js.publish(subject, payload);
    },
    async close(): Promise<void> {
      for (const messages of reading) await messages.close();
      await nc.close();
    },
  };
}

async function withConnection<T>(server: BusServer, run: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await open(server, 'test-reader');
  try {
    return await run(nc);
  } finally {
    await nc.close();
  }
}

/** Every message the stream holds on a subject, parsed: counted at the source, not at a subscriber. */
export function storedOnJetStream(server: BusServer, subject: string): Promise<unknown[]> {
  return withConnection(server, async (nc) => {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(STREAM, { subjects_filter: subject }).catch(() => null);
    const count = info?.state.subjects?.[subject] ?? 0;
    if (count === 0) return [];
    const consumer = await jetstream(nc).consumers.get(STREAM, { filter_subjects: subject });
    const out: unknown[] = [];
    while (out.length < count) {
      const batch = await consumer.fetch({ max_messages: count - out.length, expires: 5000 });
      let got = 0;
      for await (const m of batch) {
        out.push(JSON.parse(m.string()));
        got++;
      }
      if (got === 0) throw new Error(`read ${out.length} of ${count} stored messages`);
    }
    return out;
  });
}

/** Messages of a subject the service's consumer has not acked yet, delivered or not. */
export function unackedOnJetStream(server: BusServer, subject: string): Promise<number> {
  return withConnection(server, async (nc) => {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.consumers.info(STREAM, consumerName(QUEUE_GROUP, subject)).catch(() => null);
    return info ? info.num_ack_pending + info.num_pending : 0;
  });
}
