import {
  Kafka,
  logLevel,
  Partitioners,
  type Admin,
  type EachMessagePayload,
  type IHeaders,
  type KafkaMessage,
  type logCreator,
} from 'kafkajs';
import { topicFor, type Config } from '../config';
import type { Logger } from '../log';
import { retry } from '../retry';
import { BusUnavailableError, type Bus, type InboundMessage, type MessageHandler, type Verdict } from './bus';
import { Subjects, type Subject } from './subjects';

type KafkaConfig = Config['kafka'];
type ConsumerConfig = Pick<Config['nats'], 'clientId' | 'queueGroup' | 'ackWaitMs'>;

// The wait before starting again a consumer that stopped on an error, or could not start.
const RESTART_AFTER_MS = 2000;

// Headers of a retry copy: where it came from, so that the listener sees the same message again.
const H = {
  eventId: 'event-id',
  subject: 'subject',
  ref: 'ref',
  deliveries: 'deliveries',
  due: 'due-at',
  publishedAt: 'published-at',
  lookedAt: 'looked-at',
} as const;

// A copy not due yet goes back to the retry topic; one that comes back sooner than this rests its partition this long.
const RETRY_REST_MS = 1000;

const header = (headers: IHeaders | undefined, name: string) => headers?.[name]?.toString();

/** Whether Kafka refused for a topic it does not have (deleted while the service runs), here or in a cause. */
function isMissingTopic(err: unknown): boolean {
  for (let e = err as { type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
  }
  return false;
}

/** Every ticketing subject's topic and our retry topic exist, made here when allowed. */
export async function ensureTopics(admin: Admin, cfg: Omit<KafkaConfig, 'brokers'>): Promise<void> {
  const wanted = [...new Set([...Object.values(Subjects).map((s) => topicFor(cfg, s)), cfg.retryTopic])];
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((t) => !existing.has(t));
  if (missing.length === 0) return;
  if (!cfg.manageTopics) throw new Error(`Kafka topics missing (KAFKA_MANAGE_TOPICS=false): ${missing.join(', ')}`);
  // Resolves false, not an error, for a topic another service made meanwhile.
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((topic) => ({ topic, numPartitions: cfg.partitions })),
  });
}

// kafkajs logs errors it retries itself at ERROR: they are warnings here.
const toPino =
  (log: Logger): logCreator =>
  () =>
  ({ level, log: entry }) => {
    const { message, ...rest } = entry;
    if (level <= logLevel.ERROR) log.warn({ kafka: rest }, message);
    else log.debug({ kafka: rest }, message);
  };

/**
 * Kafka: one topic per subject, the order or request id as key (so one order's events
 * keep their order on one partition), the event id in a header, the queue group as
 * consumer group. A partition is read in order and a message is committed once its
 * handler answered; a message to retry is copied to the group's retry topic with its
 * due time and committed, so it never holds back its partition. The retry topic is
 * read like the others; a copy not due yet is sent to it again (a partition whose
 * copies come back at once rests a second), so that no wait holds back the fetches
 * of other subjects. A park is a commit: the listener wrote the dead letter.
 */
export async function connectKafkaBus(
  cfg: ConsumerConfig,
  kcfg: KafkaConfig,
  log: Logger,
  bootTimeoutMs: number,
  // How long the broker may stay silent before the bus counts as disconnected: five heartbeats.
  silenceMs = 5000,
): Promise<Bus> {
  const kafka = new Kafka({
    clientId: cfg.clientId,
    brokers: kcfg.brokers,
    connectionTimeout: 3000,
    requestTimeout: 5000,
    // Fail a publish within seconds when the broker is away: the outbox retries it.
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
    logCreator: toPino(log),
  });
  const admin = kafka.admin();
  await retry(
    async () => {
      await admin.connect();
      await ensureTopics(admin, kcfg);
    },
    { timeoutMs: bootTimeoutMs, onRetry: (err, wait) => log.warn({ err, wait }, 'Kafka not reachable yet, retrying') },
  );
  await admin.disconnect();
  // The Java client's partitioner: a key lands on the partition other services' producers pick.
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await retry(() => producer.connect(), { timeoutMs: bootTimeoutMs });
  log.info({ brokers: kcfg.brokers }, 'connected to Kafka');

  // The last time the broker answered any request: Kafka clients reconnect lazily, so silence is the signal.
  let lastContact = Date.now();
  const alive = () => (lastContact = Date.now());
  producer.on(producer.events.REQUEST, alive);
  const handlers = new Map<string, MessageHandler>();
  const subjectOf = new Map<string, Subject>();
  // A member that died is replaced after 10 s of silence rather than the default 30: the group waits for it.
  const consumer = kafka.consumer({
    groupId: cfg.queueGroup,
    allowAutoTopicCreation: false,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    // An idle fetch returns after a second, not the default five: the consumer, and so its
    // heartbeat, speaks to the broker every second, and silence means the broker is gone.
    maxWaitTimeInMs: 1000,
    // kafkajs restarts a consumer after a crash it counts as passing, also one that happened while it was
    // being disconnected; such a restart would reconnect a closed bus for ever. Its default five retries kept.
    retry: { retries: 5, restartOnFailure: async () => !closing },
  });
  consumer.on(consumer.events.REQUEST, alive);
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    lastContact = 0;
    log.warn({ err: payload.error, restart: payload.restart }, 'Kafka consumer crashed');
    // kafkajs restarts its consumer only after errors it counts as retriable. After any other (seen: the
    // group coordinator not found while a restarted broker loads) nothing would be read again.
    if (!payload.restart) startLater();
    if (isMissingTopic(payload.error) && kcfg.manageTopics) {
      remakeTopics().catch((err: unknown) => log.warn({ err }, 'could not make the Kafka topics again'));
    }
  });
  let consuming: Promise<void> | null = null;
  let closing = false;

  // Topics deleted while the service runs are made again (when it manages them), once at a time.
  let remaking: Promise<void> | null = null;
  function remakeTopics(): Promise<void> {
    remaking ??= (async () => {
      const admin = kafka.admin();
      try {
        await admin.connect();
        await ensureTopics(admin, kcfg);
      } finally {
        await admin.disconnect();
        remaking = null;
      }
    })();
    return remaking;
  }

  async function send(topic: string, key: string | Buffer | null, value: string | Buffer | null, headers: IHeaders) {
    const once = () => producer.send({ topic, acks: -1, messages: [{ key, value, headers }] });
    try {
      try {
        await once();
      } catch (err) {
        if (!(isMissingTopic(err) && kcfg.manageTopics)) throw err;
        log.warn({ topic }, 'Kafka topic missing; making it again');
        await remakeTopics();
        await once();
      }
      alive();
    } catch (err) {
      lastContact = 0;
      throw new BusUnavailableError(`Kafka did not take the message: ${(err as Error).message}`, { cause: err });
    }
  }

  /** The message again, on the retry topic, due after `afterMs`. */
  function requeue(msg: InboundMessage, raw: KafkaMessage, afterMs: number) {
    return send(kcfg.retryTopic, raw.key, raw.value, {
      [H.eventId]: header(raw.headers, H.eventId) ?? '',
      [H.subject]: msg.subject,
      [H.ref]: msg.ref,
      [H.deliveries]: String(msg.deliveries + 1),
      [H.due]: String(Date.now() + afterMs),
      [H.publishedAt]: String(msg.publishedAt.getTime()),
    });
  }

  async function onMessage({ topic, partition, message, pause }: EachMessagePayload) {
    alive();
    let msg: InboundMessage;
    if (topic === kcfg.retryTopic) {
      const due = Number(header(message.headers, H.due));
      const now = Date.now();
      if (now < due) {
        // Not due: it goes back to the retry topic. Waiting for it here would hold back every partition
        // of its broker, of every subject: kafkajs fetches again only once all it handed out is done.
        await send(kcfg.retryTopic, message.key, message.value, { ...message.headers, [H.lookedAt]: String(now) });
        // Back again at once (few copies wait): its partition rests, rather than sending it round and round.
        if (now - Number(header(message.headers, H.lookedAt) ?? 0) < RETRY_REST_MS) {
          const resume = pause();
          setTimeout(() => closing || resume(), Math.min(due - now, RETRY_REST_MS)).unref();
        }
        return;
      }
      msg = {
        subject: header(message.headers, H.subject) as Subject,
        data: message.value?.toString('utf8') ?? '',
        ref: header(message.headers, H.ref) ?? `${topic}#${partition}:${message.offset}`,
        deliveries: Number(header(message.headers, H.deliveries) ?? 2),
        publishedAt: new Date(Number(header(message.headers, H.publishedAt) ?? message.timestamp)),
      };
    } else {
      const subject = subjectOf.get(topic) as Subject;
      msg = {
        subject,
        data: message.value?.toString('utf8') ?? '',
        ref: `${subject}#${partition}:${message.offset}`,
        // Kafka counts no deliveries: a copy from the retry topic carries its count.
        deliveries: 1,
        publishedAt: new Date(Number(message.timestamp)),
      };
    }
    const handler = handlers.get(msg.subject);
    if (!handler) {
      // A retry of a subject this replica does not read (a rolling update adding one): left for one that does.
      log.warn({ subject: msg.subject }, 'a retry of a subject this replica does not read; queued again');
      return send(kcfg.retryTopic, message.key, message.value, {
        ...message.headers,
        [H.due]: String(Date.now() + cfg.ackWaitMs),
      });
    }
    const verdict: Verdict = await handler(msg).catch((err: unknown) => {
      log.error({ err, subject: msg.subject }, 'message handler failed; will retry');
      return { kind: 'retry', afterMs: cfg.ackWaitMs };
    });
    // An ack or a park is the commit kafkajs makes once this returns.
    if (verdict.kind === 'retry') await requeue(msg, message, verdict.afterMs);
  }

  // Subscriptions made in one turn (the listeners are registered together) start one consumer.
  async function start() {
    if (consuming) {
      // A start that failed is done with too: its error was reported when it failed.
      await consuming.catch(() => undefined);
      await consumer.stop();
    }
    const topics = [...subjectOf.keys(), kcfg.retryTopic];
    consuming = (async () => {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: true });
      // Every partition of every topic at once: one slow partition holds back only itself.
      await consumer.run({ partitionsConsumedConcurrently: 64, eachMessage: onMessage });
    })();
    await consuming;
  }
  let scheduled = false;

  let restart: NodeJS.Timeout | null = null;
  function startLater(): void {
    if (closing || restart) return;
    restart = setTimeout(() => {
      restart = null;
      if (!closing) void startNow();
    }, RESTART_AFTER_MS);
  }
  function startNow(): Promise<void> {
    return start().catch((err: unknown) => {
      log.error({ err }, 'Kafka consumer did not start; trying again');
      startLater();
    });
  }

  return {
    publish({ subject, id, key, data }) {
      return send(topicFor(kcfg, subject), key, JSON.stringify(data), { [H.eventId]: id });
    },
    subscribe(subject, handler) {
      handlers.set(subject, handler);
      subjectOf.set(topicFor(kcfg, subject), subject);
      if (scheduled) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        void startNow();
      });
    },
    isConnected: () => Date.now() - lastContact < silenceMs,
    async close() {
      closing = true;
      if (restart) clearTimeout(restart);
      // Waits for the messages in flight and commits them.
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}
