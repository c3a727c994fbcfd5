import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config';
import type { Logger } from '../log';
import { retry } from '../retry';
import { BusUnavailableError, MAX_IN_FLIGHT, type Bus, type MessageHandler } from './bus';
import { Subjects, type Subject } from './subjects';

type NatsConfig = Config['nats'];
type JetStreamConfig = Config['jetstream'];

// JetStream's error codes.
const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;
const CONSUMER_EXISTS = 10148;

/** Stream and consumer names may not hold dots (payment.createInitial has one), spaces or wildcards. */
export const consumerName = (queueGroup: string, subject: string) =>
  `${queueGroup}_${subject}`.replace(/[^A-Za-z0-9_:-]/g, '_');

/**
 * One stream holds every ticketing subject, so that a subject's history is kept whoever
 * publishes first. An existing stream keeps the subjects it had (another service may
 * have created it with more) and gains ours.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  cfg: Pick<JetStreamConfig, 'stream' | 'manageStream'>,
): Promise<void> {
  const ours: string[] = Object.values(Subjects);
  let current;
  try {
    current = await jsm.streams.info(cfg.stream);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === STREAM_NOT_FOUND)) throw err;
    if (!cfg.manageStream) {
      throw new Error(`JetStream stream ${cfg.stream} does not exist (JETSTREAM_MANAGE_STREAM=false)`, { cause: err });
    }
    await jsm.streams
      .add({ name: cfg.stream, subjects: ours, storage: StorageType.File, retention: RetentionPolicy.Limits })
      .catch((err: unknown) => {
        // Another service made it at the same moment: it is there, which is what was wanted.
        if (!(err instanceof JetStreamApiError && err.code === STREAM_NAME_IN_USE)) throw err;
      });
    return;
  }
  const missing = ours.filter((s) => !current.config.subjects?.includes(s));
  if (missing.length === 0) return;
  if (!cfg.manageStream) throw new Error(`JetStream stream ${cfg.stream} lacks the subjects ${missing.join(', ')}`);
  await jsm.streams.update(cfg.stream, {
    ...current.config,
    subjects: [...(current.config.subjects ?? []), ...missing],
  });
}

/**
 * JetStream: publishes with the event id as Nats-Msg-Id, so the server drops a copy
 * sent again inside its duplicate window; consumes through one durable pull consumer
 * per subject, named after the queue group, so that replicas share the work. A retry
 * is a delayed nak, a park a term (the listener has written the dead letter by then).
 * The client reconnects by itself; publishes fail fast meanwhile (the outbox retries them).
 */
export async function connectJetStreamBus(
  cfg: NatsConfig,
  jsCfg: JetStreamConfig,
  log: Logger,
  bootTimeoutMs: number,
): Promise<Bus> {
  const nc: NatsConnection = await retry(
    () =>
      connect({
        servers: cfg.url,
        name: cfg.clientId,
        timeout: 3000,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        // Notice a dead server within seconds.
        pingInterval: 1000,
        maxPingOut: 3,
      }),
    {
      timeoutMs: bootTimeoutMs,
      onRetry: (err, wait) => log.warn({ err, wait }, 'NATS JetStream not reachable yet, retrying'),
    },
  );
  let connected = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        connected = false;
        log.warn('NATS connection lost');
      } else if (s.type === 'reconnect') {
        connected = true;
        log.info('reconnected to NATS');
      }
    }
  })();
  void nc.closed().then(() => (connected = false));

  const jsm = await jetstreamManager(nc);
  await retry(() => ensureStream(jsm, jsCfg), {
    timeoutMs: bootTimeoutMs,
    onRetry: (err, wait) => log.warn({ err, wait }, 'JetStream stream not ready yet, retrying'),
  });
  const js = jetstream(nc);
  log.info({ url: cfg.url, stream: jsCfg.stream }, 'connected to NATS JetStream');

  const consuming = new Set<ConsumerMessages>();
  let closing = false;
  let inFlight = 0;
  let idle: (() => void) | null = null;

  function handle(subject: Subject, handler: MessageHandler, m: JsMsg) {
    inFlight++;
    handler({
      subject,
      data: m.string(),
      ref: `${subject}#${m.seq}`,
      deliveries: m.info.deliveryCount,
      publishedAt: new Date(m.info.timestampNanos / 1e6),
    })
      .then((verdict) => {
        if (verdict.kind === 'ack') m.ack();
        else if (verdict.kind === 'retry') m.nak(verdict.afterMs);
        else m.term('parked');
      })
      // Left unacked: the server sends it again after the ack wait.
      .catch((err: unknown) => log.error({ err, subject }, 'message handler failed; left for redelivery'))
      .finally(() => {
        inFlight--;
        if (inFlight === 0) idle?.();
      });
  }

  async function consume(subject: Subject, handler: MessageHandler) {
    const name = consumerName(cfg.queueGroup, subject);
    // What a deployment may change; the rest (subject, ack policy, start) is fixed at creation.
    const settings = {
      ack_wait: nanos(cfg.ackWaitMs),
      max_deliver: jsCfg.maxDeliver,
      backoff: jsCfg.backoffMs.map(nanos),
      // Handlers run without being awaited: the server's bound on unacked messages is what bounds them.
      max_ack_pending: MAX_IN_FLIGHT,
    };
    // Deleted while the service ran, the stream is made again (JETSTREAM_MANAGE_STREAM), then the consumer.
    await ensureStream(jsm, jsCfg);
    await jsm.consumers
      .add(jsCfg.stream, {
        durable_name: name,
        filter_subject: subject,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ...settings,
      })
      .catch(async (err: unknown) => {
        // It exists with other settings (an earlier deployment's): it keeps its place, takes ours.
        if (!(err instanceof JetStreamApiError && err.code === CONSUMER_EXISTS)) throw err;
        await jsm.consumers.update(jsCfg.stream, name, settings);
      });
    const consumer = await js.consumers.get(jsCfg.stream, name);
    // By default the client waits for a deleted consumer or stream to come back, reading nothing
    // meanwhile; ended instead, it is made again by keepConsuming. The client learns of a deletion
    // from the server's answer to a waiting pull, or, when no pull was waiting (seen in CI under
    // load), only once two heartbeats are missed: a pull lasts `expires` and a heartbeat comes every
    // half of it, so with 5 s rather than the default 30 s, such a deletion is seen within seconds.
    const messages = await consumer.consume({ max_messages: 100, expires: 5000, abort_on_missing_resource: true });
    consuming.add(messages);
    try {
      for await (const m of messages) {
        if (closing) break;
        handle(subject, handler, m);
      }
    } finally {
      consuming.delete(messages);
    }
  }

  // The consumer is made and read in the background; a failure (the server away at start) is retried.
  async function keepConsuming(subject: Subject, handler: MessageHandler) {
    let wait = 250;
    while (!closing) {
      const started = Date.now();
      try {
        await consume(subject, handler);
      } catch (err) {
        if (closing) return;
        log.warn({ err, subject, wait }, 'JetStream consumer not available, retrying');
      }
      // A consumer that ran a while failed afresh: start the backoff over.
      wait = Date.now() - started > 30_000 ? 250 : Math.min(wait * 2, 5000);
      // Unref: a bus closed meanwhile does not keep the process alive for it.
      await sleep(wait, undefined, { ref: false });
    }
  }

  return {
    async publish({ subject, id, data }) {
      if (!connected) throw new BusUnavailableError('NATS is not connected');
      await js.publish(subject, JSON.stringify(data), { msgID: id, timeout: 5000 });
    },
    subscribe(subject, handler) {
      void keepConsuming(subject, handler);
    },
    isConnected: () => connected,
    async close() {
      closing = true;
      for (const messages of consuming) await messages.close();
      if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
      if (!nc.isClosed()) await nc.close();
    },
  };
}
