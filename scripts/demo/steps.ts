/**
 * The things a person tries next, each printed as the request, the service's answer and the
 * events that came out on the bus. Used by the walk-through and by the terminal menu.
 */
import { Types } from 'mongoose';
import type { DemoOrder, OrdersService, SeenEvent } from './orders';
import { sessionCookie, type SessionUser } from './session';
import type { TestCard } from './site';

const out = (text: string) => process.stdout.write(`${text}\n`);
const json = (v: unknown) => JSON.stringify(v);

export function demoSteps(deps: {
  serviceUrl: string;
  jwtKey: string;
  orders: OrdersService;
  orderStored(id: string): Promise<void>;
  cards: { succeeds: TestCard; declined: TestCard };
  demoUser: SessionUser;
  admin: SessionUser;
}) {
  let lastOrder: DemoOrder | undefined;
  let lastOrderUser: SessionUser = deps.demoUser;
  // The last payment that succeeded: what a refund is for (a declined one has nothing to give back).
  let lastPaymentId: string | undefined;

  async function call(method: string, path: string, as: SessionUser, body?: unknown) {
    out(`  → ${method} ${path}${body === undefined ? '' : ` ${json(body)}`}   (session of ${as.email})`);
    const res = await fetch(`${deps.serviceUrl}${path}`, {
      method,
      headers: {
        cookie: sessionCookie(as, deps.jwtKey),
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const answer = (await res.json()) as Record<string, unknown>;
    out(`  ← ${res.status} ${json(answer)}`);
    return { status: res.status, answer };
  }

  function printEvents(events: SeenEvent[]) {
    if (events.length === 0) out('  (no event)');
    for (const e of events) out(`  ⇢ ${e.subject} ${json(e.data)}`);
  }

  const isOutcome = (e: SeenEvent) => e.subject.startsWith('payment:');

  return {
    get lastOrder() {
      return lastOrder;
    },
    async createOrder(user: SessionUser = deps.demoUser, price = 19.99) {
      out(`\n▶ The orders service publishes order:created for ${user.email}`);
      lastOrder = await deps.orders.createOrder(user.id, price);
      lastOrderUser = user;
      await deps.orderStored(lastOrder.id);
      out(`  ⇢ order:created ${json(lastOrder)}`);
      return lastOrder;
    },
    async pay(card: 'succeeds' | 'declined') {
      const order = lastOrder ?? (await this.createOrder());
      const { token, number } = deps.cards[card];
      out(`\n▶ The browser pays order ${order.id} with card ${number} (${card})`);
      const since = Date.now();
      const { status, answer } = await call('POST', '/api/payments', lastOrderUser, { token, orderId: order.id });
      if (status === 201) lastPaymentId = answer.id as string;
      printEvents(await deps.orders.eventsSince(since, isOutcome, status >= 500 ? 0 : 3000));
      return status;
    },
    async refund(amount?: number) {
      if (!lastPaymentId) return out('\nNo payment has succeeded yet: pay an order first.');
      out(`\n▶ An admin refunds payment ${lastPaymentId}${amount ? ` (${amount} cents)` : ' in full'}`);
      const since = Date.now();
      const body = amount ? { amount } : {};
      const { status } = await call('POST', `/api/payments/${lastPaymentId}/refunds`, deps.admin, body);
      printEvents(await deps.orders.eventsSince(since, (e) => e.subject === 'payment:refunded', 3000));
      return status;
    },
    async cancelOrder() {
      if (!lastOrder) return out('\nNo order yet: create one first.');
      out(`\n▶ The expiration service cancels order ${lastOrder.id} (order:cancelled)`);
      const since = Date.now();
      out(`  ⇢ order:cancelled ${json(await deps.orders.cancelOrder(lastOrder))}`);
      out('  (a paid order is refunded in full; an unpaid one can no longer be paid)');
      printEvents(await deps.orders.eventsSince(since, (e) => e.subject === 'payment:refunded', 3000));
    },
    async list(as: 'admin' | 'user' = 'admin') {
      out(`\n▶ ${as === 'admin' ? 'An admin lists every payment' : 'The demo user lists their payments'}`);
      const { answer } = await callQuiet('/api/payments?limit=10', as === 'admin' ? deps.admin : deps.demoUser);
      const data = (answer.data ?? []) as { id: string; status: string; amount: number; amountRefunded: number }[];
      for (const p of data) out(`  ${p.id}  ${p.status.padEnd(18)} ${p.amount} cents, refunded ${p.amountRefunded}`);
      if (data.length === 0) out('  (none)');
    },
    newUser(): SessionUser {
      const id = new Types.ObjectId().toHexString();
      return { id, email: `user-${id.slice(-6)}@ticketing.dev` };
    },
  };

  async function callQuiet(path: string, as: SessionUser) {
    out(`  → GET ${path}   (session of ${as.email})`);
    const res = await fetch(`${deps.serviceUrl}${path}`, { headers: { cookie: sessionCookie(as, deps.jwtKey) } });
    const answer = (await res.json()) as Record<string, unknown>;
    out(`  ← ${res.status} (${((answer.data as unknown[]) ?? []).length} payments)`);
    return { status: res.status, answer };
  }
}
export type DemoSteps = ReturnType<typeof demoSteps>;
