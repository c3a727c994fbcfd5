import type { LaneStats } from '../../src/db/writes';
import { LANE_METRICS } from '../../src/metrics';
import { metricIn } from './metrics';

/** How the service used its write lane during a turn. */
export interface LaneUse {
  /** Share of the turn a place of the lane was held, summed over its places. */
  busy: number;
  writesPerPayment: number;
  /** Mean wait of a write for a place. */
  waitMs: number;
}

/** The write lane's totals, from the service's /metrics (all 0 where it has no limit). */
export function laneTotals(metricsText: string): LaneStats {
  return Object.fromEntries(
    LANE_METRICS.map(([name, , key]) => [key, metricIn(metricsText, name)]),
  ) as unknown as LaneStats;
}

/** Null when no write went through a lane (no limit, as on PostgreSQL). */
export function laneUse(before: LaneStats, after: LaneStats, seconds: number, payments: number): LaneUse | null {
  const writes = after.writes - before.writes;
  if (writes <= 0 || seconds <= 0) return null;
  return {
    busy: (after.busySeconds - before.busySeconds) / seconds,
    writesPerPayment: writes / payments,
    waitMs: ((after.waitSeconds - before.waitSeconds) * 1000) / writes,
  };
}
