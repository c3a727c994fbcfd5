import { formatReport, type Level, type Report, type Run } from '../../scripts/bench/report';

const level = (floorPerSecond: number, servicePerSecond: number): Level => ({
  concurrency: 8,
  floor: { perSecond: floorPerSecond, p50: 10, p99: 20 },
  service: { perSecond: servicePerSecond, p50: 20, p99: 30, ok: 1000, failed: 0, statusCodes: { 201: 1000 } },
  ratio: servicePerSecond / floorPerSecond,
  ratioRange: [servicePerSecond / floorPerSecond - 0.04, servicePerSecond / floorPerSecond + 0.03],
});

const run = (stored: number, l: Level): Run => ({
  store: 'sqlite',
  stored,
  replication: { service: 2000, floor: 1000 },
  levels: [l],
  outboxDrainSeconds: 0.01,
  projectedSeconds: 0.5,
});

const machine = { cpu: 'a CPU', cores: 2, memoryGiB: 8, node: 'v20', loadAverage: [0, 0, 0] };

describe("the bench's report", () => {
  test('gives each ratio with the lowest and the highest of its rounds', () => {
    const text = formatReport({
      machine,
      ferretdb: 'v1.24.2',
      bus: 'stan',
      requests: 1000,
      runs: [run(0, level(300, 165))],
    });
    expect(text).toContain('| sqlite | 0 | 8 | 300.0 | 165.0 | 0.55 (0.51 to 0.58) |');
  });

  test('says, beside the service with payments stored against the empty database, what the floor did', () => {
    const report: Report = {
      machine,
      ferretdb: 'v1.24.2',
      bus: 'stan',
      requests: 1000,
      // The machine slowed by a third between the two: the service as much as the floor.
      runs: [run(0, level(300, 180)), run(20000, level(200, 120))],
    };
    const text = formatReport(report);
    expect(text).toContain(
      "- NOT MET: sqlite, 20000 stored, 8 clients: 0.67x the empty database's payments/s (>= 0.85; " +
        'the floor did 0.67x its own)',
    );
  });
});
