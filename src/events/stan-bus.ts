import { setTimeout as sleep } from 'node:timers/promises';
import nats, { type Message, type Stan } from 'node-nats-streaming';
import type { Config } from '../config';
import type { Logger } from '../log';
import { retry } from '../retry';
import { BusUnavailableError, MAX_IN_FLIGHT, type Bus, type MessageHandler } from './bus';
import type { Subject } from './subjects';

type NatsConfig = Config['nats'];

// How long the streaming connect request may take; the whole attempt, twice that.
const CONNECT_TIMEOUT_MS = 3000;

function connectOnce(cfg: NatsConfig): Promise<Stan> {
  return new Promise((resolve, reject) => {
    const stan = nats.connect(cfg.clusterId, cfg.clientId, {
      url: cfg.url,
      connectTimeout: CONNECT_TIMEOUT_MS,
      ackTimeout: 5000,
      // Notice a dead streaming server within seconds, not the default 15 s.
      stanPingInterval: 1000,
      stanMaxPingOut: 3,
      reconnect: false,
      waitOnFirstConnect: false,
    });
    const fail = (err: Error) => {
      clearTimeout(timer);
      stan.removeAllListeners();
      stan.on('error', () => undefined);
      reject(err);
    };
    // node-nats-streaming gives its NATS client no TCP timeout: a server that takes the connection and
    // never answers (hung, or behind a partition) would hold this attempt, and the boot, for ever.
    const timer = setTimeout(() => {
      fail(new Error(`NATS Streaming did not answer in ${2 * CONNECT_TIMEOUT_MS} ms`));
      stan.close();
    }, 2 * CONNECT_TIMEOUT_MS);
    // A connection that the server drops before it answers the connect request closes without an
    // error, and the client never tries again (seen: a service started while NATS Streaming restarted
    // waited for ever, never ready): a close before the connect is a failed attempt.
    const onClose = () => fail(new Error('NATS Streaming closed the connection before it was made'));
    stan.once('error', fail);
    stan.once('close', onClose);
    stan.once('connect', () => {
      clearTimeout(timer);
      stan.removeListener('error', fail);
      stan.removeListener('close', onClose);
      resolve(stan);
    });
  });
}

/**
 * Connects to NATS Streaming (bounded retries at boot) and keeps the connection:
 * when the server goes away the bus reconnects in the background and
 * re-subscribes every listener, while publishes fail fast (the outbox retries them).
 */
export async function connectBus(cfg: NatsConfig, log: Logger, bootTimeoutMs: number): Promise<Bus> {
  const handlers = new Map<Subject, MessageHandler>();
  // Connections that have closed: an ack callback they make after that is not an ack.
  const closed = new WeakSet<Stan>();
  let stan: Stan | null = null;
  let closing = false;
  let inFlight = 0;
  let idle: (() => void) | null = null;

  function subscribeOn(conn: Stan, subject: Subject, handler: MessageHandler) {
    const opts = conn
      .subscriptionOptions()
      .setManualAckMode(true)
      .setDeliverAllAvailable()
      .setAckWait(cfg.ackWaitMs)
      .setMaxInFlight(MAX_IN_FLIGHT)
      .setDurableName(cfg.queueGroup);
    const sub = conn.subscribe(subject, cfg.queueGroup, opts);
    // A subscription the server did not take (no answer in time, or a refusal) reads nothing, and
    // the client never asks again: the connection is made anew, which subscribes every listener.
    let taken = false;
    const renew = (err: Error) => {
      log.warn({ err, subject }, 'NATS Streaming did not take a subscription; connecting again');
      if (stan === conn) conn.close();
    };
    sub.once('ready', () => (taken = true));
    sub.on('timeout', renew);
    sub.on('error', (err: Error) => {
      if (taken) log.error({ err, subject }, 'subscription error');
      else renew(err);
    });
    sub.on('message', (msg: Message) => {
      if (closing) return;
      inFlight++;
      const data = msg.getData();
      handler({
        subject,
        data: typeof data === 'string' ? data : data.toString('utf8'),
        ref: `${subject}#${msg.getSequence()}`,
        // The client has it, its typings do not.
        deliveries: (msg as unknown as { getRedeliveryCount(): number }).getRedeliveryCount() + 1,
        publishedAt: msg.getTimestamp(),
      })
        .then((verdict) => {
          // No negative ack here: a message to retry comes back after the ack wait.
          if (verdict.kind !== 'retry') msg.ack();
        })
        .catch((err: unknown) => log.error({ err, subject }, 'message handler failed; left for redelivery'))
        .finally(() => {
          inFlight--;
          if (inFlight === 0) idle?.();
        });
    });
  }

  function adopt(conn: Stan) {
    stan = conn;
    conn.once('close', () => closed.add(conn));
    conn.on('error', (err: Error) => log.warn({ err }, 'NATS connection error'));
    conn.on('connection_lost', (err: Error) => log.warn({ err }, 'NATS Streaming connection lost'));
    conn.once('close', () => {
      if (stan === conn) stan = null;
      if (!closing) void reconnect();
    });
    for (const [subject, handler] of handlers) subscribeOn(conn, subject, handler);
  }

  async function reconnect() {
    let wait = 250;
    while (!closing) {
      try {
        const conn = await connectOnce(cfg);
        if (closing) {
          conn.close();
          return;
        }
        adopt(conn);
        log.info('reconnected to NATS Streaming');
        return;
      } catch (err) {
        log.warn({ err, wait }, 'NATS Streaming not reachable, retrying');
        await sleep(wait);
        wait = Math.min(wait * 2, 5000);
      }
    }
  }

  const first = await retry(() => connectOnce(cfg), {
    timeoutMs: bootTimeoutMs,
    onRetry: (err, wait) => log.warn({ err, wait }, 'NATS Streaming not reachable yet, retrying'),
  });
  adopt(first);
  log.info({ url: cfg.url, clientId: cfg.clientId }, 'connected to NATS Streaming');

  return {
    publish({ subject, data }) {
      const conn = stan;
      if (!conn) return Promise.reject(new BusUnavailableError('NATS Streaming is not connected'));
      return new Promise((resolve, reject) => {
        let settled = false;
        const settle = (err?: Error) => {
          if (settled) return;
          settled = true;
          if (err) reject(err);
          else resolve();
        };
        try {
          conn.publish(subject, JSON.stringify(data), (err) => {
            if (err) return settle(typeof err === 'string' ? new Error(err) : err);
            // node-nats-streaming 0.3.2 calls back every publish still awaiting its ack, without
            // an error, when its connection closes, and emits 'close' right after in the same
            // turn. Only a callback whose connection is still open by the end of that turn is an ack.
            queueMicrotask(() =>
              settle(closed.has(conn) ? new BusUnavailableError('the connection closed before the ack') : undefined),
            );
          });
        } catch (err) {
          settle(err as Error);
        }
      });
    },
    subscribe(subject, handler) {
      handlers.set(subject, handler);
      if (stan) subscribeOn(stan, subject, handler);
    },
    isConnected: () => stan !== null,
    async close() {
      closing = true;
      if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
      const conn = stan;
      stan = null;
      if (!conn) return;
      await new Promise<void>((resolve) => {
        conn.once('close', () => resolve());
        conn.close();
      });
    },
  };
}
