/**
 * The demo's stand-in for the ticketing orders service: it publishes order:created and
 * order:cancelled on NATS Streaming as that service would, and records every payment event
 * the payments service publishes, so that each step can show what came out.
 */
import { Types } from 'mongoose';
import nats, { type Stan } from 'node-nats-streaming';
import { Subjects, type Subject } from '../../src/events/subjects';

export interface DemoOrder {
  id: string;
  version: number;
  status: string;
  userId: string;
  expiresAt: string;
  ticket: { id: string; price: number };
}

export interface SeenEvent {
  subject: string;
  data: Record<string, unknown>;
  at: number;
}

const PUBLISHED = Object.values(Subjects).filter((s) => s.startsWith('payment:') || s === 'notification:requested');

export async function connectOrdersService(bus: { url: string; clusterId: string }) {
  const stan: Stan = await new Promise((resolve, reject) => {
    const c = nats.connect(bus.clusterId, `demo-orders-${process.pid}`, { url: bus.url });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
  const seen: SeenEvent[] = [];
  const waiters = new Set<() => void>();
  for (const subject of PUBLISHED) {
    // Only what is published from now on: an earlier run's events are not this one's.
    const sub = stan.subscribe(subject, stan.subscriptionOptions().setStartAt(nats.StartPosition.NEW_ONLY));
    sub.on('message', (m: nats.Message) => {
      seen.push({ subject, data: JSON.parse(m.getData() as string) as Record<string, unknown>, at: Date.now() });
      waiters.forEach((w) => w());
    });
  }
  const publish = (subject: Subject, data: unknown) =>
    new Promise<void>((resolve, reject) =>
      stan.publish(subject, JSON.stringify(data), (err) => (err ? reject(err) : resolve())),
    );

  return {
    seen,
    async createOrder(userId: string, price: number): Promise<DemoOrder> {
      const order = {
        id: new Types.ObjectId().toHexString(),
        version: 0,
        status: 'created',
        userId,
        expiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
        ticket: { id: new Types.ObjectId().toHexString(), price },
      };
      await publish(Subjects.OrderCreated, order);
      return order;
    },
    /** As the expiration service's cancel: version 1, the ticket named. */
    async cancelOrder(order: DemoOrder): Promise<unknown> {
      const cancel = { id: order.id, version: order.version + 1, ticket: { id: order.ticket.id } };
      await publish(Subjects.OrderCancelled, cancel);
      return cancel;
    },
    /**
     * The events seen since `since`, once `until` matches one of them or `timeoutMs` passed: a step's
     * events arrive a little after its answer (the notification follows the payment event).
     */
    async eventsSince(since: number, until: (e: SeenEvent) => boolean, timeoutMs = 3000): Promise<SeenEvent[]> {
      const deadline = Date.now() + timeoutMs;
      const mine = () => seen.filter((e) => e.at >= since);
      while (!mine().some(until) && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            clearTimeout(t);
            resolve();
          };
          const t = setTimeout(wake, deadline - Date.now());
          waiters.add(wake);
        });
      }
      // The notification:requested of the same change comes right after; give it a moment.
      await new Promise((r) => setTimeout(r, 150));
      return mine();
    },
    close: () =>
      new Promise<void>((resolve) => {
        stan.once('close', () => resolve());
        stan.close();
      }),
  };
}
export type OrdersService = Awaited<ReturnType<typeof connectOrdersService>>;
