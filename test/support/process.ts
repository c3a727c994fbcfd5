import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './servers';

const ROOT = join(__dirname, '..', '..');

// A test that fails or times out must not leave a service running: it would steal the CPU of what runs next.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * The service as its own process, for crash and signal tests: `src/main.ts` through tsx, or
 * with `built` the compiled `dist/main.js` as production runs it (npm run build makes it).
 */
export async function spawnService(
  env: Record<string, string>,
  opts: { nodeArgs?: string[]; built?: boolean; /** Also appends its output to this file. */ logFile?: string } = {},
) {
  const port = env.PORT && env.PORT !== '0' ? Number(env.PORT) : await freePort();
  let output = '';
  const entry = opts.built ? [join(ROOT, 'dist', 'main.js')] : ['--import', 'tsx', join(ROOT, 'src', 'main.ts')];
  const child: ChildProcess = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const log = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
  const record = (d: Buffer) => {
    output += d.toString();
    log?.write(d);
  };
  child.stdout?.on('data', record);
  child.stderr?.on('data', record);
  child.once('exit', () => log?.end());
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    pid: child.pid,
    exited,
    output: () => output,
    /** Resolves once readiness answers 200; rejects if the process ends first. */
    async ready(timeoutMs = 30000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}:\n${output}`);
        const ok = await fetch(`${url}/api/payments/health`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`service not ready in ${timeoutMs} ms:\n${output}`);
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
export type ServiceProcess = Awaited<ReturnType<typeof spawnService>>;

/** Runs one of the service's command-line tools (`src/tools/<name>.ts`) to its end. */
export async function runTool(name: string, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'tools', `${name}.ts`), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, stdout, stderr };
}
