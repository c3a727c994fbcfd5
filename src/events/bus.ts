import type { Subject } from './subjects';

/** A message as a listener sees it, whatever the transport. */
export interface InboundMessage {
  subject: string;
  data: string;
  /** Where the message sits on its bus (subject and sequence): the same for every redelivery. */
  ref: string;
  /** 1 the first time, then one more for every redelivery. */
  deliveries: number;
  publishedAt: Date;
}

/**
 * What a handler decides: settle the message, have it again after a delay, or give up
 * on it (the handler parked it). NATS Streaming has no negative ack: there a message
 * to retry comes back after the subscription's ack wait, whatever the delay asked.
 */
export type Verdict = { kind: 'ack' } | { kind: 'retry'; afterMs: number } | { kind: 'park' };

export type MessageHandler = (msg: InboundMessage) => Promise<Verdict>;

export interface OutboundMessage {
  subject: Subject;
  /** The event id: transports that can drop duplicates by it do. */
  id: string;
  /** The order or request the message is about: a partition key where the transport has one. */
  key: string;
  data: unknown;
}

/** A publish that no server took: the outbox keeps the message and tries again. */
export class BusUnavailableError extends Error {
  override name = 'BusUnavailableError';
}

/** The event bus port: NATS Streaming, JetStream or Kafka (events/connect-bus.ts picks one). */
export interface Bus {
  /** Resolves only once the server has stored the message. */
  publish(message: OutboundMessage): Promise<void>;
  subscribe(subject: Subject, handler: MessageHandler): void;
  isConnected(): boolean;
  /** Stops taking messages, waits for those in flight, then closes. */
  close(): Promise<void>;
}

/**
 * Unacked messages the server hands one subscription at a time. Without a bound it sends its
 * default (NATS Streaming: 16,384 per channel): a new queue group replaying a channel's whole history (the
 * cutover in the README) then ran tens of thousands of handlers at once, missed its pings and
 * ran out of heap on 30,000 orders with 10,000 cancels and 10,000 payments. With 256 the same
 * replay took about 40 s on a busy 2-core machine, in 140 MB with the heap capped at 96 MB.
 */
export const MAX_IN_FLIGHT = 256;
