import type { LaneStats } from '../../src/db/writes';
import { metricIn } from './metrics';

/** The write lane's totals, from the service's /metrics (all 0 where it has no limit). */
export type LaneTotals = LaneStats;

/** How the service used its write lane during a turn. */
export interface LaneUse {
  /** Share of the turn a place of the lane was held, summed over its places. */
  busy: number;
  writesPerPayment: number;
  /** Mean wait of a write for a place. */
  waitMs: number;
}

const NAMES: [keyof LaneTotals, string][] = [
  ['writes', 'db_write_lane_writes_total'],
  ['waitSeconds', 'db_write_lane_wait_seconds_total'],
  ['busySeconds', 'db_write_lane_busy_seconds_total'],
];

export function laneTotals(metricsText: string): LaneTotals {
  return Object.fromEntries(NAMES.map(([key, name]) => [key, metricIn(metricsText, name)])) as unknown as LaneTotals;
}

/** Null when no write went through a lane (no limit, as on PostgreSQL). */
export function laneUse(before: LaneTotals, after: LaneTotals, seconds: number, payments: number): LaneUse | null {
  const writes = after.writes - before.writes;
  if (writes <= 0 || seconds <= 0) return null;
  return {
    busy: (after.busySeconds - before.busySeconds) / seconds,
    writesPerPayment: writes / payments,
    waitMs: ((after.waitSeconds - before.waitSeconds) * 1000) / writes,
  };
}
