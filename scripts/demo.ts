/**
 * `npm run demo`: runs the service for real on this machine. It starts local
 * FerretDB, NATS Streaming and stripe-mock (built once by scripts/provision.sh),
 * starts the service, walks one purchase through it as the other ticketing
 * services and the browser would, then keeps everything running until Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { Types } from 'mongoose';
import nats, { type Stan } from 'node-nats-streaming';
import { spawnService, type ServiceProcess } from '../test/support/process';
import { startFerretDb, startNatsStreaming, startStripeMock, type RunningServer } from '../test/support/servers';

const step = (text: string) => process.stdout.write(`\n▶ ${text}\n`);
const show = (label: string, value: unknown) =>
  process.stdout.write(`  ${label}: ${typeof value === 'string' ? value : JSON.stringify(value)}\n`);

async function main() {
  const running: RunningServer[] = [];
  let service: ServiceProcess | undefined;
  let stan: Stan | undefined;
  const stopAll = async () => {
    stan?.close();
    await service?.kill('SIGTERM');
    await Promise.all(running.map((s) => s.stop()));
  };
  const onSignal = () => {
    process.stdout.write('\nStopping…\n');
    void stopAll().then(() => process.exit(0));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    step('Starting the local servers');
    const [mongo, bus, stripe] = await Promise.all([startFerretDb(), startNatsStreaming(), startStripeMock()]);
    running.push(mongo, bus, stripe);
    show('MongoDB (FerretDB)', mongo.url);
    show('NATS Streaming', `${bus.url} (cluster ${bus.clusterId})`);
    show('Stripe (stripe-mock)', stripe.url);

    step('Starting the payments service');
    const jwtKey = randomBytes(16).toString('hex');
    service = await spawnService({
      PORT: process.env.PORT ?? '3000',
      NODE_ENV: 'development',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      JWT_KEY: jwtKey,
      MONGO_URI: `${mongo.url}/payments`,
      NATS_URL: bus.url,
      NATS_CLUSTER_ID: bus.clusterId,
      NATS_CLIENT_ID: 'payments-demo',
      PAYMENT_PROVIDER: 'stripe',
      STRIPE_KEY: 'sk_test_demo',
      STRIPE_API_BASE: stripe.url,
    });
    await service.ready();
    show('listening', service.url);

    stan = await new Promise<Stan>((resolve, reject) => {
      const c = nats.connect(bus.clusterId, 'demo-orders-service', { url: bus.url });
      c.once('connect', () => resolve(c));
      c.once('error', reject);
    });
    const paymentCreated = new Promise<unknown>((resolve) => {
      const sub = stan!.subscribe('payment:created', stan!.subscriptionOptions().setDeliverAllAvailable());
      sub.on('message', (m: nats.Message) => resolve(JSON.parse(m.getData() as string)));
    });

    step('The orders service publishes order:created');
    const user = { id: new Types.ObjectId().toHexString(), email: 'demo@ticketing.dev' };
    const order = {
      id: new Types.ObjectId().toHexString(),
      version: 0,
      status: 'created',
      userId: user.id,
      expiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
      ticket: { id: new Types.ObjectId().toHexString(), price: 19.99 },
    };
    await new Promise<void>((resolve, reject) =>
      stan!.publish('order:created', JSON.stringify(order), (err) => (err ? reject(err) : resolve())),
    );
    show('order:created', order);

    step('The browser posts a Stripe token with its session cookie');
    const cookie = `session=${Buffer.from(JSON.stringify({ jwt: jwt.sign(user, jwtKey) })).toString('base64')}`;
    let answer: Response | undefined;
    // The order reaches the service's own database asynchronously; until then it is unknown (404).
    for (let i = 0; i < 50; i++) {
      answer = await fetch(`${service.url}/api/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, 'idempotency-key': `demo-${order.id}` },
        body: JSON.stringify({ token: 'tok_visa', orderId: order.id }),
      });
      if (answer.status !== 404) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    show(`POST /api/payments → ${answer?.status}`, await answer?.json());

    step('Other services receive payment:created');
    show('payment:created', await paymentCreated);

    step('Running. Try it:');
    show('health', `curl ${service.url}/api/payments/health`);
    show('API docs', `${service.url}/api/payments/doc/`);
    show('metrics', `curl ${service.url}/metrics`);
    show('session cookie for curl', cookie);
    process.stdout.write('\nPress Ctrl-C to stop the service and the servers.\n');
    const { code } = await service.exited;
    process.stdout.write(`The service exited with ${code}.\n${service.output().slice(-2000)}\n`);
    await stopAll();
    process.exit(1);
  } catch (err) {
    process.stderr.write(
      `demo failed: ${(err as Error).stack ?? String(err)}\n${service?.output().slice(-4000) ?? ''}\n`,
    );
    await stopAll();
    process.exit(1);
  }
}

void main();
