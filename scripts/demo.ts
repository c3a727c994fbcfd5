/**
 * `npm run demo`: runs the service for real on this machine. It starts FerretDB, NATS Streaming and
 * localstripe (a Stripe stand-in that keeps charges and declines cards), the service, and a checkout
 * site in the manner of the ticketing client; walks a purchase, a decline and a refund through; prints
 * what a developer needs to call the service by hand; then offers a menu in a terminal, or keeps
 * serving until Ctrl-C when stdin is not one. `--once` stops after the walk-through (CI, timing);
 * `--simulator` uses the built-in simulator instead of localstripe.
 */
import { parseArgs } from 'node:util';
import { relative } from 'node:path';
import { Types } from 'mongoose';
import { runMenu } from './demo/menu';
import { connectOrdersService, type OrdersService } from './demo/orders';
import { sessionCookie, signToken, writeSettings, type SessionUser } from './demo/session';
import { startCheckoutSite, TEST_CARDS, type CheckoutSite } from './demo/site';
import { startDemoStack, type DemoStack } from './demo/stack';
import { demoSteps } from './demo/steps';

const out = (text: string) => process.stdout.write(`${text}\n`);
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

async function main() {
  const { values } = parseArgs({
    options: { once: { type: 'boolean' }, simulator: { type: 'boolean' }, 'no-menu': { type: 'boolean' } },
  });
  const provider = values.simulator ? 'simulator' : 'localstripe';
  let stack: DemoStack | undefined;
  let orders: OrdersService | undefined;
  let site: CheckoutSite | undefined;
  const stopAll = async () => {
    await site?.close();
    await orders?.close();
    await stack?.stop();
  };
  let stopping = false;
  const onSignal = () => {
    stopping = true;
    out('\nStopping…');
    void stopAll().then(() => process.exit(0));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    out(`▶ Starting FerretDB, NATS Streaming, ${provider} and the payments service`);
    stack = await startDemoStack({
      provider,
      port: Number(process.env.PORT ?? 3000),
      say: (line) => out(`  ${line}`),
    });
    const ready = stack;
    orders = await connectOrdersService(ready.bus);
    const cardList = TEST_CARDS[provider];
    const cards = { succeeds: cardList[0]!, declined: cardList[1]! };
    const id = () => new Types.ObjectId().toHexString();
    const demoUser: SessionUser = { id: id(), email: 'demo@ticketing.dev' };
    const admin: SessionUser = { id: id(), email: 'admin@ticketing.dev', role: 'admin' };
    const ordersService = orders;
    const createOrder = async (userId: string, price: number) => {
      const order = await ordersService.createOrder(userId, price);
      await ready.orderStored(order.id);
      return order;
    };
    site = await startCheckoutSite({
      serviceUrl: ready.service.url,
      jwtKey: ready.jwtKey,
      cards: cardList,
      createOrder,
      demoUser,
      port: Number(process.env.DEMO_SITE_PORT ?? 3001),
    }).catch(() =>
      // The usual port is taken (another demo?): any free one will do, it is printed.
      startCheckoutSite({
        serviceUrl: ready.service.url,
        jwtKey: ready.jwtKey,
        cards: cardList,
        createOrder,
        demoUser,
      }),
    );
    writeSettings({
      jwtKey: ready.jwtKey,
      serviceUrl: ready.service.url,
      siteUrl: site.url,
      mongoUrl: `${ready.mongo.url}/payments`,
      natsUrl: ready.bus.url,
      natsClusterId: ready.bus.clusterId,
      logFile: ready.logFile,
      provider,
      startedAt: new Date().toISOString(),
    });
    out(`  ready in ${elapsed()}`);

    const steps = demoSteps({
      serviceUrl: ready.service.url,
      jwtKey: ready.jwtKey,
      orders,
      orderStored: (orderId) => ready.orderStored(orderId),
      cards,
      demoUser,
      admin,
    });
    await steps.createOrder();
    await steps.pay('succeeds');
    await steps.createOrder();
    await steps.pay('declined');
    await steps.refund();

    const siteUrl = site.url;
    const help = () => {
      const log = relative(process.cwd(), ready.logFile) || ready.logFile;
      out(`
▶ Call it yourself (walk-through done in ${elapsed()})
  checkout page     ${siteUrl}/   (create an order, pay with a test card, see a decline)
  admin console     ${siteUrl}/api/payments/admin/   (sign in as "An admin" on the checkout page first)
  API docs          ${ready.service.url}/api/payments/doc/
  health, metrics   curl ${ready.service.url}/api/payments/health ; curl ${ready.service.url}/metrics
  service log       ${log}   (tail -f it; JSON lines)
  JWT_KEY           ${ready.jwtKey}
  user cookie       ${sessionCookie(demoUser, ready.jwtKey)}
  admin cookie      ${sessionCookie(admin, ready.jwtKey)}
  admin bearer      ${signToken(admin, ready.jwtKey)}
  any user          npm run cookie -- <userId> [--admin]   (reads .demo/settings.json)
  try               curl -s ${ready.service.url}/api/payments -H "Cookie: $(npm run -s cookie -- ${demoUser.id})"
  test cards        ${cards.succeeds.number} succeeds (token ${cards.succeeds.token}), ${cards.declined.number} is declined (token ${cards.declined.token})`);
    };
    help();

    if (values.once) {
      await stopAll();
      process.exit(0);
    }
    if (process.stdin.isTTY && !values['no-menu']) {
      await runMenu(steps, help);
      out('Stopping…');
      await stopAll();
      process.exit(0);
    }
    out('\nServing until Ctrl-C.');
    const { code } = await ready.service.exited;
    // Ctrl-C reaches the service too: its exit is then part of stopping, not a failure.
    if (stopping) return;
    out(`The service exited with ${code}; its log: ${ready.logFile}`);
    await stopAll();
    process.exit(1);
  } catch (err) {
    const output = (err as { serviceOutput?: string }).serviceOutput ?? stack?.service.output() ?? '';
    process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n${output.slice(-4000)}\n`);
    await stopAll();
    process.exit(1);
  }
}

void main();
