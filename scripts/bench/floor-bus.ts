import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import nats from 'node-nats-streaming';
import type { BusServer, NatsServer } from '../../test/support/servers';

/** The floor's bare use of a transport: publish and await the ack; consume and ack each message. */
export interface FloorBus {
  publish(subject: string, data: string): Promise<void>;
  consume(subject: string, handle: (data: string) => Promise<void>): void;
  close(): Promise<void>;
}

// The floor's own subjects, apart from the service's: the bench's peer publishes orders on them too.
export const FLOOR_SUBJECTS = ['floor:order:created', 'floor:payment:created'];
const kafkaTopic = (subject: string) => subject.replace(/:/g, '.');

async function stanFloor(server: NatsServer): Promise<FloorBus> {
  const stan = await new Promise<nats.Stan>((resolve, reject) => {
    const c = nats.connect(server.clusterId, `floor-${process.pid}`, { url: server.url, reconnect: false });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
  return {
    publish: (subject, data) =>
      new Promise<void>((resolve, reject) => stan.publish(subject, data, (err) => (err ? reject(err) : resolve()))),
    consume(subject, handle) {
      const opts = stan.subscriptionOptions().setManualAckMode(true).setDeliverAllAvailable().setMaxInFlight(1024);
      stan.subscribe(subject, opts).on('message', (m: nats.Message) => {
        void handle(m.getData() as string).then(() => m.ack());
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        stan.once('close', () => resolve());
        stan.close();
      }),
  };
}

async function jetStreamFloor(server: BusServer): Promise<FloorBus> {
  const nc = await connect({ servers: server.url, name: 'floor' });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'floor', subjects: FLOOR_SUBJECTS });
  const js = jetstream(nc);
  return {
    async publish(subject, data) {
      await js.publish(subject, data);
    },
    consume(subject, handle) {
      void (async () => {
        const name = `floor_${subject}`;
        await jsm.consumers.add('floor', {
          durable_name: name,
          filter_subject: subject,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          max_ack_pending: 1024,
        });
        const messages = await (await js.consumers.get('floor', name)).consume({ max_messages: 1024 });
        for await (const m of messages) void handle(m.string()).then(() => m.ack());
      })();
    },
    close: () => nc.close(),
  };
}

async function kafkaFloor(server: BusServer): Promise<FloorBus> {
  const kafka = new Kafka({ clientId: 'floor', brokers: [server.url], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: FLOOR_SUBJECTS.map((s) => ({ topic: kafkaTopic(s), numPartitions: 3 })),
  });
  await admin.disconnect();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const consumers: ReturnType<Kafka['consumer']>[] = [];
  return {
    async publish(subject, data) {
      await producer.send({ topic: kafkaTopic(subject), acks: -1, messages: [{ value: data }] });
    },
    consume(subject, handle) {
      const consumer = kafka.consumer({ groupId: `floor-${subject}` });
      consumers.push(consumer);
      void (async () => {
        await consumer.connect();
        await consumer.subscribe({ topics: [kafkaTopic(subject)], fromBeginning: true });
        // A batch's messages are inserted together, as the NATS floors keep 1,024 in flight.
        await consumer.run({
          partitionsConsumedConcurrently: 3,
          eachBatch: async ({ batch }) => {
            await Promise.all(batch.messages.map((m) => handle(String(m.value))));
          },
        });
      })();
    },
    async close() {
      for (const c of consumers) await c.disconnect();
      await producer.disconnect();
    },
  };
}

export function connectFloorBus(server: BusServer): Promise<FloorBus> {
  if (server.kind === 'jetstream') return jetStreamFloor(server);
  if (server.kind === 'kafka') return kafkaFloor(server);
  return stanFloor(server as NatsServer);
}
