import { laneTotals, laneUse } from '../../scripts/bench/lane';

const scrape = (writes: number, wait: number, busy: number) =>
  [
    '# HELP db_write_lane_writes_total Write commands sent through the write lane',
    '# TYPE db_write_lane_writes_total counter',
    `db_write_lane_writes_total ${writes}`,
    `db_write_lane_wait_seconds_total ${wait}`,
    `db_write_lane_busy_seconds_total ${busy}`,
    'payments_total{outcome="succeeded"} 12',
  ].join('\n');

describe("the bench's reading of the write lane", () => {
  test('gives the share of the turn the lane was held, its commands per payment and their mean wait', () => {
    const use = laneUse(laneTotals(scrape(100, 0.5, 2)), laneTotals(scrape(180, 0.9, 11)), 10, 100);
    expect(use).not.toBeNull();
    expect(use!.busy).toBeCloseTo(0.9);
    expect(use!.writesPerPayment).toBeCloseTo(0.8);
    expect(use!.waitMs).toBeCloseTo(5);
  });

  test('gives nothing where no write went through a lane', () => {
    expect(laneUse(laneTotals(scrape(0, 0, 0)), laneTotals(scrape(0, 0, 0)), 10, 100)).toBeNull();
    expect(laneTotals('payments_total 3')).toEqual({ writes: 0, waitSeconds: 0, busySeconds: 0 });
  });
});
