import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/** Debian's chromium (`apt-get install chromium`), found on PATH; CHROMIUM_PATH names another. */
export function chromiumPath(): string | undefined {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) {
      if (dir && existsSync(join(dir, name))) return join(dir, name);
    }
  }
  return undefined;
}

/**
 * Browser tests run where a chromium is installed, and always in CI (.ci/run installs it):
 * elsewhere they are skipped rather than failing a first `npm test` for a missing browser.
 */
export const describeInBrowser = chromiumPath() || process.env.CI ? describe : describe.skip;

// Nothing but the page under test: no update checks, sync, field trials or QUIC probes.
const OFFLINE_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchBrowser(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('no chromium on PATH: apt-get install chromium (or set CHROMIUM_PATH)');
  return chromium.launch({ executablePath, headless: true, args: OFFLINE_FLAGS });
}
