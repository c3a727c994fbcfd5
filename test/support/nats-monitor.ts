import nats from 'node-nats-streaming';
import { uniqueName } from './harness';
import { storedOnJetStream, unackedOnJetStream } from './jetstream-peer';
import { storedOnKafka, unackedOnKafka } from './kafka-peer';
import type { BusServer, NatsServer } from './servers';

interface ChannelInfo {
  msgs: number;
  subscriptions?: { queue_name?: string; durable_name?: string; pending_count: number; is_offline: boolean }[];
}

/** What the NATS Streaming server says of a channel, from its monitoring endpoint. */
export async function channelInfo(server: NatsServer, channel: string): Promise<ChannelInfo> {
  const url = `http://127.0.0.1:${server.monitorPort}/streaming/channelsz?channel=${encodeURIComponent(channel)}&subs=1`;
  const res = await fetch(url);
  // The server answers 404 for a channel nothing was published to yet.
  if (res.status === 404) return { msgs: 0, subscriptions: [] };
  return (await res.json()) as ChannelInfo;
}

/** Messages of a subject the service has not acked yet, as the bus server counts them. */
export async function unacked(server: BusServer, subject: string): Promise<number> {
  if (server.kind === 'jetstream') return unackedOnJetStream(server, subject);
  if (server.kind === 'kafka') return unackedOnKafka(server, subject);
  const { subscriptions = [] } = await channelInfo(server as NatsServer, subject);
  return subscriptions.reduce((n, s) => n + s.pending_count, 0);
}

/**
 * Every message the server has stored on a channel, parsed: what another service
 * would receive, counted at the source rather than at a subscriber that may lag.
 */
export async function storedMessages(server: BusServer, channel: string): Promise<unknown[]> {
  if (server.kind === 'jetstream') return storedOnJetStream(server, channel);
  if (server.kind === 'kafka') return storedOnKafka(server, channel);
  return storedOnStan(server as NatsServer, channel);
}

async function storedOnStan(server: NatsServer, channel: string): Promise<unknown[]> {
  const { msgs } = await channelInfo(server, channel);
  if (msgs === 0) return [];
  const stan = await new Promise<nats.Stan>((resolve, reject) => {
    const c = nats.connect(server.clusterId, uniqueName('reader'), { url: server.url, reconnect: false });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
  try {
    return await new Promise<unknown[]>((resolve, reject) => {
      const out: unknown[] = [];
      const timer = setTimeout(() => reject(new Error(`read ${out.length} of ${msgs} stored messages`)), 20_000);
      const sub = stan.subscribe(channel, stan.subscriptionOptions().setDeliverAllAvailable().setMaxInFlight(10_000));
      sub.on('message', (m: nats.Message) => {
        out.push(JSON.parse(m.getData() as string));
        if (out.length === msgs) {
          clearTimeout(timer);
          resolve(out);
        }
      });
    });
  } finally {
    await new Promise<void>((resolve) => {
      stan.once('close', () => resolve());
      stan.close();
    });
  }
}
