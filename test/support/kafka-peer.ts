import { DEFAULT_QUEUE_GROUP } from '../../src/config';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { topicFor } from '../../src/config';
import { ensureTopics } from '../../src/events/kafka-bus';
import type { Subject } from '../../src/events/subjects';
import type { BusServer } from './servers';

// The settings the tests leave at their defaults.
const GROUP = DEFAULT_QUEUE_GROUP;
const SETTINGS = { topics: {}, retryTopic: `${GROUP}.retry`, manageTopics: true, partitions: 3 };

const client = (server: BusServer, clientId: string) =>
  new Kafka({ clientId, brokers: [server.url], logLevel: logLevel.NOTHING, retry: { retries: 10 } });

// What a ticketing service would key its message by: the order, request or subscription it is about.
function keyOf(payload: string): string | null {
  try {
    const data = JSON.parse(payload) as Record<string, unknown>;
    const key = data.id ?? data.requestId ?? data.subId;
    return typeof key === 'string' ? key : null;
  } catch {
    return null;
  }
}

/** Another ticketing service on Kafka: it publishes keyed messages and reads every subject asked for. */
export async function kafkaPeer(
  server: BusServer,
  name: string,
  subjects: Subject[],
  onMessage: (subject: string, data: string) => void,
) {
  const kafka = client(server, name);
  const admin = kafka.admin();
  await admin.connect();
  // Whoever comes first makes the topics, as in a cluster where the orders service may start first.
  await ensureTopics(admin, SETTINGS);
  await admin.disconnect();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const consumer = subjects.length > 0 ? kafka.consumer({ groupId: name }) : null;
  if (consumer) {
    const subjectOf = new Map(subjects.map((s) => [topicFor(SETTINGS, s), s]));
    await consumer.connect();
    await consumer.subscribe({ topics: [...subjectOf.keys()], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => onMessage(subjectOf.get(topic) as string, String(message.value)),
    });
  }
  return {
    async publish(subject: Subject, payload: string): Promise<void> {
      await producer.send({ topic: topicFor(SETTINGS, subject), messages: [{ key: keyOf(payload), value: payload }] });
    },
    async close(): Promise<void> {
      await consumer?.disconnect();
      await producer.disconnect();
    },
  };
}

async function offsets(kafka: Kafka, topic: string) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
}

/** Every message a subject's topic holds, parsed: counted at the source, not at a subscriber. */
export async function storedOnKafka(server: BusServer, subject: string): Promise<unknown[]> {
  const kafka = client(server, 'test-reader');
  const topic = topicFor(SETTINGS, subject);
  const count = (await offsets(kafka, topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  if (count === 0) return [];
  const consumer = kafka.consumer({ groupId: `reader-${randomBytes(6).toString('hex')}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    return await new Promise<unknown[]>((resolve, reject) => {
      const out: unknown[] = [];
      const timer = setTimeout(() => reject(new Error(`read ${out.length} of ${count} stored messages`)), 20_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          out.push(JSON.parse(String(message.value)));
          if (out.length === count) {
            clearTimeout(timer);
            resolve(out);
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
}

/**
 * Messages of a subject the service has not committed yet, and every copy waiting in its
 * retry topic (whatever its subject: a test waits for both to drain).
 */
export async function unackedOnKafka(server: BusServer, subject: string): Promise<number> {
  const kafka = client(server, 'test-monitor');
  const admin = kafka.admin();
  await admin.connect();
  try {
    let lag = 0;
    for (const topic of [topicFor(SETTINGS, subject), SETTINGS.retryTopic]) {
      const [ends, [committed]] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId: GROUP, topics: [topic] }),
      ]);
      for (const end of ends) {
        const at = Number(committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? -1);
        lag += Number(end.high) - (at >= 0 ? at : Number(end.low));
      }
    }
    return lag;
  } finally {
    await admin.disconnect();
  }
}
