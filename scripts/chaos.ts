import { parseArgs } from 'node:util';
import { runChaos, type ChaosReport } from '../test/support/chaos';
import { startFerretDb, startStripeMock } from '../test/support/servers';

const USAGE = `Usage: npm run chaos -- [options]
  --payments N        payments to make (default 1000)
  --clients N         concurrent clients, each retrying with its Idempotency-Key (default 8)
  --rate N            payments started per second, all clients together (default 10)
  --nats-every MS     NATS Streaming is restarted this often (default 5000)
  --service-every MS  the service is SIGKILLed and restarted this often (default 20000)
  --db-every MS       FerretDB is SIGKILLed and restarted this often (default 0: never)
  --provider-every MS the provider misbehaves this often, in turn: answers to charges lost, answers to
                      refunds lost, connections dropped, 429s (default 0: never)
  --settle MS         how long after the last answer everything must be settled (default 60000)`;

function readFlags() {
  const { values } = parseArgs({
    options: {
      payments: { type: 'string', default: '1000' },
      clients: { type: 'string', default: '8' },
      rate: { type: 'string', default: '10' },
      'nats-every': { type: 'string', default: '5000' },
      'service-every': { type: 'string', default: '20000' },
      'db-every': { type: 'string', default: '0' },
      'provider-every': { type: 'string', default: '0' },
      settle: { type: 'string', default: '60000' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const n = (name: string, text: string) => {
    const v = Number(text);
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a whole number >= 1\n${USAGE}`);
    return v;
  };
  return {
    payments: n('payments', values.payments),
    clients: n('clients', values.clients),
    ratePerSecond: n('rate', values.rate),
    natsEveryMs: n('nats-every', values['nats-every']),
    serviceEveryMs: n('service-every', values['service-every']),
    settleMs: n('settle', values.settle),
    dbEveryMs: values['db-every'] === '0' ? 0 : n('db-every', values['db-every']),
    providerEveryMs: values['provider-every'] === '0' ? 0 : n('provider-every', values['provider-every']),
  };
}

const counted = (answers: Record<string, number>) => {
  const list = Object.entries(answers).map(([s, n]) => `${n} x ${s}`);
  return list.length > 0 ? list.join(', ') : 0;
};

function format(r: ChaosReport): string {
  return [
    `${r.payments} payments in ${r.seconds.toFixed(0)} s, ${r.natsRestarts} NATS Streaming restarts, ` +
      `${r.serviceKills} service SIGKILLs, ${r.dbRestarts} FerretDB SIGKILLs, ${r.providerFaults} provider faults, ` +
      `${r.clientRetries} client retries.`,
    '',
    '| check | count |',
    '|---|---:|',
    `| double charges (an order charged under two provider keys) | ${r.doubleCharges} |`,
    `| charges whose payment did not end succeeded | ${r.chargedNotSucceeded} |`,
    `| lost payment:created (a succeeded payment with no message on the server) | ${r.lostEvents} |`,
    `| duplicate payment:created (copies beyond the first, same eventId) | ${r.duplicateMessages} |`,
    `| payments or refunds still pending (or changes unfinished) after the settle time | ${r.stuckPending} |`,
    `| messages still in the outbox after the settle time | ${r.undelivered} |`,
    `| final client answers other than 201 | ${counted(r.not201)} |`,
    `| payments refunded beyond their charge (at the provider or in the service) | ${r.overRefunded} |`,
    `| refunds the provider made that the service does not hold as succeeded | ${r.refundsMadeNotRecorded} |`,
    `| refunds the service holds as succeeded that the provider did not make | ${r.refundsRecordedNotMade} |`,
    `| lost payment:refunded (a succeeded refund with no message on the server) | ${r.lostRefundEvents} |`,
    `| final refund answers other than 201, 201, then 409 refund_exceeds_remaining | ${counted(r.unexpectedRefundAnswers)} |`,
  ].join('\n');
}

async function main(): Promise<void> {
  const flags = readFlags();
  const [ferret, stripeMock] = await Promise.all([startFerretDb(), startStripeMock()]);
  process.env.TEST_MONGO_URI = ferret.url;
  process.env.STRIPE_MOCK_URL = stripeMock.url;
  try {
    const { dbEveryMs, ...rest } = flags;
    const report = await runChaos({
      ...rest,
      ...(dbEveryMs > 0 && { db: { everyMs: dbEveryMs, restart: () => ferret.restart() } }),
      log: (line) => console.error(`chaos: ${line}`),
    });
    console.log(format(report));
    const failed =
      report.doubleCharges +
      report.chargedNotSucceeded +
      report.lostEvents +
      report.stuckPending +
      report.undelivered +
      report.overRefunded +
      report.refundsMadeNotRecorded +
      report.refundsRecordedNotMade +
      report.lostRefundEvents;
    const unexpected = Object.keys(report.not201).length + Object.keys(report.unexpectedRefundAnswers).length;
    if (failed > 0 || unexpected > 0) process.exitCode = 1;
  } finally {
    await Promise.all([ferret.stop(), stripeMock.stop()]);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
