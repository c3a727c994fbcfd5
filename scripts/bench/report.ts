import type { LaneUse } from './lane';
import type { ListCase } from './lists';

export interface Measured {
  perSecond: number;
  p50: number;
  p99: number;
}

export interface Level {
  concurrency: number;
  /** Medians over the rounds. */
  floor: Measured;
  service: Measured & { ok: number; failed: number; statusCodes: Record<string, number> };
  /** The median over the rounds of the service's payments/s over the floor's in the same round. */
  ratio: number;
  /** The lowest and highest of those ratios: how far one round can say otherwise. */
  ratioRange: [number, number];
  /** Milliseconds of CPU per payment by process, during the floor's turns and the service's (Linux only). */
  cpu?: { floor: Record<string, number>; service: Record<string, number> };
  /** FerretDB commands per payment, by command, during the same turns. */
  commands?: { floor: Record<string, number>; service: Record<string, number> };
  /** The service's write lane during its turns (medians over the rounds), where it has a limit. */
  lane?: LaneUse;
}

export interface Run {
  store: string;
  stored: number;
  /** order:created events stored per second: the service's listener, and a bare consume-and-insert loop. */
  replication: { service: number; floor: number };
  levels: Level[];
  /** From the last answer at the last level until the outbox held nothing. */
  outboxDrainSeconds: number;
  /** From the last answer at the last level until every stored payment read succeeded. */
  projectedSeconds: number;
  /** GET /api/payments, when payments were stored before the run. */
  lists?: ListCase[];
  profile?: string;
}

export interface Report {
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; loadAverage: number[] };
  ferretdb: string;
  bus: 'stan' | 'jetstream' | 'kafka';
  requests: number;
  runs: Run[];
}

const BUS_SERVERS = {
  stan: 'nats-streaming-server 0.25.6 (file store)',
  jetstream: 'nats-server 2.15.2 (JetStream, file store)',
  kafka: 'Kafka 4.4.0 (KRaft, one node)',
};

const fixed = (n: number, digits = 1) => n.toFixed(digits);
const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;

/** The targets the service is held to, each with the figure it is judged on. */
function verdicts(report: Report): string[] {
  const lines: string[] = [];
  const check = (ok: boolean, what: string) => lines.push(`- ${ok ? 'met' : 'NOT MET'}: ${what}`);
  for (const run of report.runs) {
    const where = `${run.store}, ${run.stored} stored`;
    for (const l of run.levels) {
      const ratio = l.ratio;
      const want = l.concurrency === 1 ? 0.5 : 0.6;
      check(
        ratio >= want,
        `${where}, ${l.concurrency} clients: ${fixed(ratio, 2)}x the floor's payments/s (>= ${want})`,
      );
      const p99 = l.service.p99 / l.floor.p99;
      check(p99 <= 2, `${where}, ${l.concurrency} clients: p99 ${fixed(p99, 2)}x the floor's (<= 2)`);
    }
    check(
      run.outboxDrainSeconds <= 2,
      `${where}: outbox drained ${fixed(run.outboxDrainSeconds, 2)} s after the last answer (<= 2)`,
    );
    const rep = run.replication.service / run.replication.floor;
    check(rep >= 0.9, `${where}: order:created replication ${fixed(rep, 2)}x the bare insert loop (>= 0.9)`);
    const empty = report.runs.find((r) => r.store === run.store && r.stored === 0);
    if (run.store === 'sqlite' && run.stored > 0 && empty) {
      for (const l of run.levels) {
        const base = empty.levels.find((e) => e.concurrency === l.concurrency);
        if (!base) continue;
        const kept = l.service.perSecond / base.service.perSecond;
        // The two are measured minutes apart, and this machine's speed drifts by a third within a run:
        // the floor's own change says how much of it was the machine.
        const floorKept = l.floor.perSecond / base.floor.perSecond;
        check(
          kept >= 0.85,
          `${where}, ${l.concurrency} clients: ${fixed(kept, 2)}x the empty database's payments/s (>= 0.85; ` +
            `the floor did ${fixed(floorKept, 2)}x its own)`,
        );
      }
    }
  }
  return lines;
}

function listTable(r: Report): string[] {
  const runs = r.runs.filter((run) => run.lists);
  if (runs.length === 0) return [];
  return [
    '### GET /api/payments with payments stored',
    '',
    "Each kind timed one request at a time; the floor is the driver's find with the same filter, sort and limit.",
    '',
    row(['store', 'stored', 'list', 'query', 'returned', 'floor p50 ms', 'service p50 ms', 'service max ms']),
    row(['---', '---:', '---', '---', '---:', '---:', '---:', '---:']),
    ...runs.flatMap((run) =>
      (run.lists as ListCase[]).map((l) =>
        row([
          run.store,
          run.stored,
          l.name,
          `\`${l.query}\``,
          l.returned,
          fixed(l.floorP50),
          fixed(l.serviceP50),
          fixed(l.serviceMax),
        ]),
      ),
    ),
    '',
  ];
}

const PROCESSES: [key: string, title: string][] = [
  ['bench', 'bench process'],
  ['service', 'service'],
  ['store', 'FerretDB'],
  ['bus', 'bus server'],
  ['stripe', 'stripe-mock'],
];

/** Where the CPU of a payment went, process by process, in the floor's turns and in the service's. */
function costTable(r: Report): string[] {
  const measured = r.runs.flatMap((run) => run.levels.filter((l) => l.cpu).map((l) => ({ run, l })));
  if (measured.length === 0) return [];
  const commands = (c: Record<string, number> | undefined) =>
    c
      ? Object.entries(c)
          .filter(([name]) => name !== 'hello')
          .map(([name, n]) => `${name} ${fixed(n, 2)}`)
          .join(', ')
      : '';
  const line = (run: Run, l: Level, turn: 'floor' | 'service') => {
    const cpu = l.cpu?.[turn] ?? {};
    const all = Object.values(cpu).reduce((a, b) => a + b, 0);
    return row([
      run.store,
      run.stored,
      l.concurrency,
      turn,
      ...PROCESSES.map(([key]) => fixed(cpu[key] ?? 0, 2)),
      `**${fixed(all, 2)}**`,
      commands(l.commands?.[turn]),
    ]);
  };
  return [
    '### CPU per payment, by process',
    '',
    'Milliseconds of CPU (user and system, from /proc) per payment during the turns of the floor and of the ' +
      'service, averaged over the rounds; a server counts with its children (PostgreSQL with its backends). ' +
      "The bench process runs the floor's code in the floor's turns and autocannon in the service's. With the " +
      "machine out of CPU, the ratio is about the floor's whole over the service's.",
    '',
    row(['store', 'stored', 'clients', 'turn', ...PROCESSES.map(([, title]) => title), 'all', 'FerretDB commands']),
    row(['---', '---:', '---:', '---', ...PROCESSES.map(() => '---:'), '---:', '---']),
    ...measured.flatMap(({ run, l }) => [line(run, l, 'floor'), line(run, l, 'service')]),
    '',
  ];
}

/** Whether the service waited for its write lane: a lane busy all the time bounds the payments/s. */
function laneTable(r: Report): string[] {
  const measured = r.runs.flatMap((run) => run.levels.filter((l) => l.lane).map((l) => ({ run, l })));
  if (measured.length === 0) return [];
  return [
    "### The service's write lane",
    '',
    "From the service's metrics, during its turns (medians over the rounds). Busy is the share of the turn a " +
      'write command held the lane (MONGO_WRITES_IN_FLIGHT=1 on SQLite): near 1, requests queue for it, and ' +
      'each command carries the writes that arrived meanwhile.',
    '',
    row(['store', 'stored', 'clients', 'busy', 'write commands per payment', 'mean wait ms']),
    row(['---', '---:', '---:', '---:', '---:', '---:']),
    ...measured.map(({ run, l }) => {
      const lane = l.lane as LaneUse;
      return row([
        run.store,
        run.stored,
        l.concurrency,
        fixed(lane.busy, 2),
        fixed(lane.writesPerPayment, 2),
        fixed(lane.waitMs, 1),
      ]);
    }),
    '',
  ];
}

export function formatReport(r: Report): string {
  const m = r.machine;
  const out = [
    `Machine: ${m.cpu}, ${m.cores} cores, ${fixed(m.memoryGiB)} GiB, Node ${m.node}, ` +
      `load average at start ${m.loadAverage.map((l) => fixed(l, 2)).join(' ')}`,
    `Servers on the same cores: FerretDB ${r.ferretdb}, ${BUS_SERVERS[r.bus]}, stripe-mock 0.197.0; ` +
      `the service as its own process (NODE_ENV=production), load from autocannon; ${r.requests} payments per level.`,
    'The floor: the same drivers doing the bare sequence (read the order by _id, charge stripe-mock, insert a payment, ' +
      'publish payment:created and await its ack), in the bench process.',
    '',
    '### POST /api/payments against the floor',
    '',
    'At each level the floor and the service take turns (rounds); each figure is the median over the rounds, the ' +
      'ratio the median of the ratios within a round (in brackets, the lowest and the highest of them).',
    '',
    row([
      'store',
      'stored',
      'clients',
      'floor /s',
      'service /s',
      'ratio',
      'floor p50/p99 ms',
      'service p50/p99 ms',
      'p99 ratio',
      'non-2xx',
    ]),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
    ...r.runs.flatMap((run) =>
      run.levels.map((l) =>
        row([
          run.store,
          run.stored,
          l.concurrency,
          fixed(l.floor.perSecond),
          fixed(l.service.perSecond),
          `${fixed(l.ratio, 2)} (${fixed(l.ratioRange[0], 2)} to ${fixed(l.ratioRange[1], 2)})`,
          `${fixed(l.floor.p50)} / ${fixed(l.floor.p99)}`,
          `${l.service.p50} / ${l.service.p99}`,
          fixed(l.service.p99 / l.floor.p99, 2),
          l.service.failed,
        ]),
      ),
    ),
    '',
    '### order:created replication and the outbox',
    '',
    row([
      'store',
      'stored',
      'bare loop events/s',
      'service events/s',
      'ratio',
      'outbox empty after the last answer',
      'payments stored as succeeded',
    ]),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:']),
    ...r.runs.map((run) =>
      row([
        run.store,
        run.stored,
        fixed(run.replication.floor),
        fixed(run.replication.service),
        fixed(run.replication.service / run.replication.floor, 2),
        `${fixed(run.outboxDrainSeconds, 2)} s`,
        `${fixed(run.projectedSeconds, 2)} s`,
      ]),
    ),
    '',
    ...listTable(r),
    ...costTable(r),
    ...laneTable(r),
    '### Targets',
    '',
    ...verdicts(r),
  ];
  for (const run of r.runs.filter((x) => x.profile)) {
    out.push(
      '',
      `### Where the service's time went (${run.store}, ${run.stored} stored, every level)`,
      '',
      run.profile as string,
    );
  }
  return out.join('\n');
}
