import type { Subject } from './subjects';

/** A message as a listener sees it; `ack: true` from the handler settles it. */
export interface BusMessage {
  subject: string;
  data: string;
  sequence: number;
  redelivered: boolean;
}

/** Resolves true to ack; false leaves the message to be redelivered after the ack wait. */
export type MessageHandler = (msg: BusMessage) => Promise<boolean>;

/** The event bus port: NATS Streaming in production and tests (events/nats-bus.ts). */
export interface Bus {
  /** Resolves once the server has stored the message. */
  publish(subject: Subject, data: unknown): Promise<void>;
  subscribe(subject: Subject, handler: MessageHandler): void;
  isConnected(): boolean;
  /** Stops taking messages, waits for those in flight, then closes. */
  close(): Promise<void>;
}
