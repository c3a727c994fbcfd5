import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of each process of the stack, read from Linux's /proc: at 8 clients on 2 cores
 * the machine is out of CPU, and the ratio to the floor is about the floor's CPU per
 * payment over the service's. Each group is processes with their children (PostgreSQL's
 * backends), except `self`: the bench's own process, whose children are the servers.
 */
export type Groups = Record<string, { pids: number[]; self?: boolean }>;

/** Milliseconds of CPU by group; null where /proc cannot be read. */
export type CpuSample = Record<string, number> | null;

const ticksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Parent and user+system ticks of every live process. */
function processes(): Map<number, { parent: number; ticks: number }> {
  const all = new Map<number, { parent: number; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    // After the command's closing parenthesis: state, ppid, ..., utime (12th), stime (13th).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    all.set(Number(name), { parent: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
  }
  return all;
}

export function sampleCpu(groups: Groups): CpuSample {
  if (!existsSync('/proc/self/stat')) return null;
  const all = processes();
  const children = new Map<number, number[]>();
  for (const [pid, p] of all) {
    const list = children.get(p.parent);
    if (list) list.push(pid);
    else children.set(p.parent, [pid]);
  }
  const treeTicks = (pid: number): number =>
    (all.get(pid)?.ticks ?? 0) + (children.get(pid) ?? []).reduce((sum, c) => sum + treeTicks(c), 0);
  return Object.fromEntries(
    Object.entries(groups).map(([name, g]) => {
      const ticks = g.pids.reduce((sum, pid) => sum + (g.self ? (all.get(pid)?.ticks ?? 0) : treeTicks(pid)), 0);
      return [name, (ticks * 1000) / ticksPerSecond];
    }),
  );
}

/** CPU per payment between two samples, by group. */
export function cpuPerPayment(before: CpuSample, after: CpuSample, payments: number): Record<string, number> | null {
  if (!before || !after) return null;
  return Object.fromEntries(Object.keys(after).map((k) => [k, ((after[k] ?? 0) - (before[k] ?? 0)) / payments]));
}

/** FerretDB's count of the commands it was sent, by command name (from its debug metrics). */
export async function ferretCommands(metricsUrl: string | undefined): Promise<Record<string, number> | null> {
  if (!metricsUrl) return null;
  const text = await (await fetch(metricsUrl)).text();
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^ferretdb_client_requests_total\{([^}]*)\} (\S+)$/.exec(line);
    const command = m && /command="([^"]*)"/.exec(m[1] as string)?.[1];
    if (m && command) counts[command] = (counts[command] ?? 0) + Number(m[2]);
  }
  return counts;
}

/** Commands per payment between two counts, those sent at all. */
export function commandsPerPayment(
  before: Record<string, number> | null,
  after: Record<string, number> | null,
  payments: number,
): Record<string, number> | null {
  if (!before || !after) return null;
  const sent = Object.entries(after).map(([k, n]) => [k, (n - (before[k] ?? 0)) / payments] as const);
  return Object.fromEntries(sent.filter(([, n]) => n >= 0.005));
}
