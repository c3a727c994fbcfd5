import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'payments-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Free ports and a settings folder of its own: a demo someone runs by hand is left alone.
const env = { ...process.env, PORT: '0', DEMO_SITE_PORT: '0', DEMO_DIR: dir, LOG_LEVEL: 'info' };

/** `npm run demo`'s program without a terminal, as CI or a script would run it. */
function demo(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'demo.ts'), ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function until(output: () => string, text: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!output().includes(text)) {
    if (Date.now() > deadline) throw new Error(`no "${text}" in:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('npm run demo', () => {
  test('--once walks a payment, a decline and a refund through, then stops with 0', async () => {
    const run = demo(['--once']);
    const code = await run.exited;
    const out = run.output();
    expect({ code, out }).toEqual({ code: 0, out: expect.any(String) });
    expect(out).toMatch(/← 201 .*"status":"succeeded"/);
    expect(out).toMatch(/← 402 .*"code":"card_declined"/);
    expect(out).toMatch(/⇢ payment:failed /);
    expect(out).toMatch(/⇢ payment:refunded /);
    expect(out).toContain('npm run cookie -- <userId> [--admin]');
    expect(readFileSync(join(dir, 'service.log'), 'utf8')).toContain('payments service listening');
  });

  test('without a terminal keeps serving until Ctrl-C; npm run cookie signs with its key', async () => {
    const run = demo([]);
    try {
      await until(run.output, 'Serving until Ctrl-C.');
      const settings = JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8')) as { serviceUrl: string };
      const cookie = await new Promise<string>((resolve, reject) => {
        const c = spawn(
          process.execPath,
          ['--import', 'tsx', join(ROOT, 'scripts', 'cookie.ts'), 'someone', '--admin'],
          {
            cwd: ROOT,
            env,
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
        let value = '';
        c.stdout?.on('data', (d: Buffer) => (value += d.toString()));
        c.once('exit', (code) => (code === 0 ? resolve(value.trim()) : reject(new Error(`cookie exited ${code}`))));
      });
      const console = await fetch(`${settings.serviceUrl}/api/payments/admin/`, { headers: { cookie } });
      expect(console.status).toBe(200);
      const list = await fetch(`${settings.serviceUrl}/api/payments?limit=100`, { headers: { cookie } });
      expect(((await list.json()) as { data: unknown[] }).data).toHaveLength(2);
    } finally {
      run.child.kill('SIGINT');
    }
    expect(await run.exited).toBe(0);
  });
});
