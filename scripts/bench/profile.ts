import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a function's code comes from, in the words of a reader of the request path. */
function owner(url: string, name: string): string {
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(idle)' || name === '(program)') return name.slice(1, -1);
  if (!url) return 'V8 and native';
  if (url.startsWith('node:')) return `Node ${url.slice(5).split('/')[0]}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  const src = /\/(src|scripts)\/(.+)$/.exec(url);
  return src ? `${src[1]}/${src[2]}` : url;
}

/** Self time of a V8 CPU profile, by owner and by function, as shares of the busy time. */
export function summarize(dir: string, top = 12): string {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return `no .cpuprofile in ${dir}`;
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = (byId.get(id) as ProfileNode).callFrame;
    const who = owner(url, functionName);
    if (who === 'idle') continue;
    busy += us;
    owners.set(who, (owners.get(who) ?? 0) + us);
    const fn = `${functionName || '(anonymous)'} ${who}${url && !url.startsWith('node:') ? `:${lineNumber + 1}` : ''}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
  }
  const rows = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `| ${k} | ${((100 * us) / busy).toFixed(1)}% |`);
  return [
    `Busy time of the service's main thread: ${(busy / 1e6).toFixed(2)} s (idle left out; V8 samples the wall clock,`,
    'so time spent waiting for a CPU inside a native call, such as a socket write, counts as that call).',
    '',
    '| code | self time |',
    '|---|---:|',
    ...rows(owners),
    '',
    '| function | self time |',
    '|---|---:|',
    ...rows(functions),
  ].join('\n');
}
