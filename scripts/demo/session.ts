/**
 * The demo's settings (written by `npm run demo`, read by `npm run cookie`) and the ticketing
 * session cookie that the auth service would set: base64 of {"jwt": token}, the token HS256-signed.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';

/** Git-ignored: it holds the demo's JWT key, which is a secret only in name. DEMO_DIR moves it (tests). */
export const DEMO_DIR = process.env.DEMO_DIR ?? join(__dirname, '..', '..', '.demo');
export const SETTINGS_FILE = join(DEMO_DIR, 'settings.json');

export interface DemoSettings {
  jwtKey: string;
  serviceUrl: string;
  siteUrl: string;
  mongoUrl: string;
  natsUrl: string;
  natsClusterId: string;
  logFile: string;
  provider: 'localstripe' | 'simulator';
  startedAt: string;
}

export interface SessionUser {
  id: string;
  email: string;
  role?: 'admin';
}

export function writeSettings(settings: DemoSettings): void {
  mkdirSync(DEMO_DIR, { recursive: true });
  writeFileSync(SETTINGS_FILE, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
}

export function readSettings(): DemoSettings {
  try {
    return JSON.parse(readFileSync(SETTINGS_FILE, 'utf8')) as DemoSettings;
  } catch {
    throw new Error(`no demo settings in ${SETTINGS_FILE}: start \`npm run demo\` first (or set JWT_KEY)`);
  }
}

export const signToken = (user: SessionUser, jwtKey: string) => jwt.sign(user, jwtKey, { algorithm: 'HS256' });

/** The cookie's value, as the browser sends it after `session=`. */
export const sessionValue = (user: SessionUser, jwtKey: string) =>
  Buffer.from(JSON.stringify({ jwt: signToken(user, jwtKey) })).toString('base64');

export const sessionCookie = (user: SessionUser, jwtKey: string) => `session=${sessionValue(user, jwtKey)}`;

/** The user a session cookie names, if its token verifies; what the service itself would accept. */
export function userOf(cookieHeader: string | undefined, jwtKey: string): SessionUser | null {
  const value = /(?:^|;\s*)session=([^;]+)/.exec(cookieHeader ?? '')?.[1];
  if (!value) return null;
  try {
    const { jwt: token } = JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as { jwt?: unknown };
    if (typeof token !== 'string') return null;
    const payload = jwt.verify(token, jwtKey, { algorithms: ['HS256'] });
    if (typeof payload !== 'object' || typeof payload.id !== 'string' || typeof payload.email !== 'string') return null;
    return { id: payload.id, email: payload.email, ...(payload.role === 'admin' && { role: 'admin' as const }) };
  } catch {
    return null;
  }
}
