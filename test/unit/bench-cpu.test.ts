import { spawn } from 'node:child_process';
import { commandsPerPayment, cpuPerPayment, sampleCpu } from '../../scripts/bench/cpu';

const linux = process.platform === 'linux';

describe('the bench: CPU per payment by process', () => {
  (linux ? test : test.skip)("counts a server's CPU with its children's, and the bench's own without", async () => {
    // A shell whose child spins until it has used 400 ms of CPU (counted as CPU, not on the clock: on
    // a busy machine 400 ms of the clock gave it less than 200), says so, then idles: the shell itself
    // uses next to nothing.
    const spin = `node -e "for (let u = process.cpuUsage(); u.user + u.system < 400000; u = process.cpuUsage()); console.log('spun'); setTimeout(() => {}, 10000)"`;
    const shell = spawn('sh', ['-c', `${spin}; true`], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const groups = { server: { pids: [shell.pid as number] }, alone: { pids: [shell.pid as number], self: true } };
      const before = sampleCpu(groups);
      await new Promise((resolve) => shell.stdout.once('data', resolve));
      const perPayment = cpuPerPayment(before, sampleCpu(groups), 2);
      expect(perPayment).not.toBeNull();
      // 400 ms of CPU over 2 payments, less what the child spent before the first sample.
      expect(perPayment!.server).toBeGreaterThan(100);
      expect(perPayment!.server).toBeLessThan(400);
      expect(perPayment!.alone).toBeLessThan(20);
    } finally {
      // The spinning child first, while it is still the shell's.
      await new Promise((r) => spawn('pkill', ['-KILL', '-P', String(shell.pid)]).once('exit', r));
      shell.kill('SIGKILL');
    }
  });

  test('gives commands per payment, those sent at all', () => {
    const before = { find: 10, insert: 4, delete: 0 };
    const after = { find: 30, insert: 20, delete: 0, hello: 1 };
    expect(commandsPerPayment(before, after, 20)).toEqual({ find: 1, insert: 0.8, hello: 0.05 });
    expect(commandsPerPayment(null, after, 20)).toBeNull();
  });
});
