import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_KEYS, ConfigError, loadConfig } from '../../src/config';

const valid = {
  JWT_KEY: 'k',
  MONGO_URI: 'mongodb://127.0.0.1:27017/payments',
  NATS_URL: 'nats://127.0.0.1:4222',
  NATS_CLUSTER_ID: 'ticketing',
  NATS_CLIENT_ID: 'payments-abc',
  STRIPE_KEY: 'sk_test_x',
};

describe('loadConfig', () => {
  test('applies the documented defaults', () => {
    const c = loadConfig(valid);
    expect(c).toMatchObject({
      port: 3000,
      defaultCurrency: 'usd',
      nats: { queueGroup: 'payments-service', ackWaitMs: 5000 },
      provider: { kind: 'stripe' },
      reconcile: { intervalMs: 10000 },
      idempotencyTtlMs: 86_400_000,
      events: { maxDeliveries: 20, maxAgeMs: 3_600_000 },
    });
  });

  test('accepts MONGO_URL as the same setting', () => {
    const { MONGO_URI: uri, ...rest } = valid;
    expect(loadConfig({ ...rest, MONGO_URL: uri }).mongoUri).toBe(uri);
  });

  test('reports every bad key at once', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', NATS_URL: 'not a url', NATS_ACK_WAIT_MS: '-5', PAYMENT_PROVIDER: 'paypal' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const key of [
      'PORT',
      'JWT_KEY',
      'MONGO_URI',
      'NATS_URL',
      'NATS_CLUSTER_ID',
      'NATS_CLIENT_ID',
      'NATS_ACK_WAIT_MS',
      'PAYMENT_PROVIDER',
    ]) {
      expect(message).toContain(`${key}:`);
    }
  });

  test('needs STRIPE_KEY with the stripe provider only; the simulator needs none', () => {
    const { STRIPE_KEY: _key, ...rest } = valid;
    expect(() => loadConfig(rest)).toThrow(/STRIPE_KEY/);
    expect(loadConfig({ ...rest, PAYMENT_PROVIDER: 'simulator' }).provider.kind).toBe('simulator');
  });

  test('refuses a reconcile threshold that could race a charge still in flight', () => {
    expect(() => loadConfig({ ...valid, PROVIDER_TIMEOUT_MS: '20000', PAYMENTS_RECONCILE_AFTER_MS: '30000' })).toThrow(
      /PAYMENTS_RECONCILE_AFTER_MS/,
    );
  });
});

describe('the documented settings', () => {
  const read = (file: string) => readFileSync(join(__dirname, '..', '..', file), 'utf8');

  test('.env.example lists every setting the service reads, and nothing else', () => {
    const listed = [...read('.env.example').matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]);
    expect([...listed].sort()).toEqual(CONFIG_KEYS.filter((k) => k !== 'MONGO_URL').sort());
  });

  test("the README's configuration table names every setting", () => {
    const readme = read('README.md');
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Layout'));
    expect(CONFIG_KEYS.filter((k) => !table.includes(`\`${k}\``))).toEqual([]);
  });
});
