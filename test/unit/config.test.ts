import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_KEYS, ConfigError, loadConfig, readBusSettings } from '../../src/config';

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
      nats: { queueGroup: 'ticketing-payments', ackWaitMs: 5000 },
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

  test('refuses an ack wait NATS Streaming cannot take (whole seconds), and a duration no timer can wait', () => {
    expect(() => loadConfig({ ...valid, NATS_ACK_WAIT_MS: '1500' })).toThrow(/NATS_ACK_WAIT_MS/);
    expect(loadConfig({ ...valid, NATS_ACK_WAIT_MS: '2000' }).nats.ackWaitMs).toBe(2000);
    // Node runs a timer of more than 2^31-1 ms at once, and then again, without end.
    expect(() => loadConfig({ ...valid, OUTBOX_INTERVAL_MS: '3000000000' })).toThrow(/OUTBOX_INTERVAL_MS/);
    // An age is no timer: a message may be kept retrying for a month.
    expect(loadConfig({ ...valid, EVENT_MAX_AGE_MS: '2592000000' }).events.maxAgeMs).toBe(2_592_000_000);
  });

  test('refuses a reconcile threshold that could race a charge still in flight', () => {
    expect(() => loadConfig({ ...valid, PROVIDER_TIMEOUT_MS: '20000', PAYMENTS_RECONCILE_AFTER_MS: '30000' })).toThrow(
      /PAYMENTS_RECONCILE_AFTER_MS/,
    );
  });

  test('callbacks: none by default; each URL checked, a secret required with them, the schedule read in units', () => {
    expect(loadConfig(valid).callbacks).toEqual({
      urls: [],
      secret: '',
      retryScheduleMs: [0, 10_000, 60_000, 300_000, 1_800_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000],
      timeoutMs: 10000,
    });
    const set = loadConfig({
      ...valid,
      ORDER_CALLBACK_URL: 'https://orders.example/callbacks, http://10.0.0.7:8080/cb,https://orders.example/callbacks',
      CALLBACK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      CALLBACK_RETRY_SCHEDULE: '0, 500, 2s, 1d',
    }).callbacks;
    expect(set.urls).toEqual(['https://orders.example/callbacks', 'http://10.0.0.7:8080/cb']);
    expect(set.retryScheduleMs).toEqual([0, 500, 2000, 86_400_000]);

    expect(() => loadConfig({ ...valid, ORDER_CALLBACK_URL: 'https://orders.example/cb' })).toThrow(/CALLBACK_SECRET/);
    for (const url of ['ftp://orders.example/cb', 'orders.example/cb', 'https://user:pw@orders.example/cb']) {
      expect(() => loadConfig({ ...valid, ORDER_CALLBACK_URL: url, CALLBACK_SECRET: 's' })).toThrow(
        /ORDER_CALLBACK_URL/,
      );
    }
    for (const schedule of ['', '0,10x', '1.5s', '10s,-1']) {
      expect(() => loadConfig({ ...valid, CALLBACK_RETRY_SCHEDULE: schedule })).toThrow(/CALLBACK_RETRY_SCHEDULE/);
    }
    expect(() => loadConfig({ ...valid, CALLBACK_SECRET: 'whsec_not base64!' })).toThrow(/CALLBACK_SECRET/);
  });
});

describe('BUS', () => {
  const { NATS_URL: _url, NATS_CLUSTER_ID: _cluster, ...noNats } = valid;

  test('stan by default; each transport requires what it connects to, and nothing of the others', () => {
    expect(loadConfig(valid).bus).toBe('stan');
    expect(() => loadConfig({ ...valid, NATS_CLUSTER_ID: '' })).toThrow(/NATS_CLUSTER_ID: is required with BUS=stan/);
    expect(loadConfig({ ...valid, BUS: 'jetstream', NATS_CLUSTER_ID: '' }).bus).toBe('jetstream');
    expect(() => loadConfig({ ...noNats, BUS: 'jetstream' })).toThrow(/NATS_URL: is required with BUS=jetstream/);
    expect(() => loadConfig({ ...noNats, BUS: 'kafka' })).toThrow(/KAFKA_BROKERS: is required with BUS=kafka/);
    expect(() => loadConfig({ ...valid, BUS: 'rabbitmq' })).toThrow(/BUS/);
  });

  test("JetStream: a stream name without dots; max_deliver above the listeners' limit if set, none by default", () => {
    const js = { ...valid, BUS: 'jetstream' };
    expect(loadConfig(js).jetstream).toEqual({
      stream: 'ticketing',
      manageStream: true,
      maxDeliver: -1,
      backoffMs: [],
    });
    expect(
      loadConfig({ ...js, JETSTREAM_BACKOFF: '1s, 1m', JETSTREAM_MANAGE_STREAM: 'false' }).jetstream,
    ).toMatchObject({
      manageStream: false,
      backoffMs: [1000, 60_000],
    });
    expect(() => loadConfig({ ...js, JETSTREAM_STREAM: 'ticketing.events' })).toThrow(/JETSTREAM_STREAM/);
    expect(() => loadConfig({ ...js, JETSTREAM_MAX_DELIVER: '20' })).toThrow(/JETSTREAM_MAX_DELIVER/);
    expect(loadConfig({ ...js, JETSTREAM_MAX_DELIVER: '21' }).jetstream.maxDeliver).toBe(21);
  });

  test('Kafka: brokers as host:port, topics mapped per subject, a retry topic per queue group', () => {
    const kafka = loadConfig({
      ...noNats,
      BUS: 'kafka',
      KAFKA_BROKERS: 'kafka-0:9092, kafka-1:9092',
      KAFKA_TOPICS: 'order:created=orders.created, payment:created = payments.created',
    }).kafka;
    expect(kafka).toEqual({
      brokers: ['kafka-0:9092', 'kafka-1:9092'],
      topics: { 'order:created': 'orders.created', 'payment:created': 'payments.created' },
      retryTopic: 'ticketing-payments.retry',
      manageTopics: true,
      partitions: 3,
    });
    expect(() => loadConfig({ ...noNats, BUS: 'kafka', KAFKA_BROKERS: 'kafka-0' })).toThrow(/KAFKA_BROKERS/);
    expect(() =>
      loadConfig({ ...noNats, BUS: 'kafka', KAFKA_BROKERS: 'k:9092', KAFKA_TOPICS: 'order:created=order:created' }),
    ).toThrow(/KAFKA_TOPICS/);
    // Each subject has a topic of its own: a consumer knows a message's subject by its topic.
    for (const topics of [
      'order:created=orders, order:cancelled=orders',
      'order:created=order.cancelled',
      // A subject the service does not know is a typo, whose subject would go to its default topic.
      'order:create=orders.created',
    ]) {
      expect(() => loadConfig({ ...noNats, BUS: 'kafka', KAFKA_BROKERS: 'k:9092', KAFKA_TOPICS: topics })).toThrow(
        /KAFKA_TOPICS/,
      );
    }
  });

  test("Kafka: a retry topic that is a subject's topic is refused, whether named or mapped", () => {
    // Every message read from the retry topic is taken for a retry: a subject's own messages would be too.
    const kafka = { ...noNats, BUS: 'kafka', KAFKA_BROKERS: 'k:9092' };
    expect(() => loadConfig({ ...kafka, KAFKA_RETRY_TOPIC: 'payment.created' })).toThrow(
      /KAFKA_RETRY_TOPIC: payment.created is the topic of payment:created/,
    );
    expect(() => loadConfig({ ...kafka, KAFKA_TOPICS: 'order:created=ticketing-payments.retry' })).toThrow(
      /KAFKA_RETRY_TOPIC: ticketing-payments.retry is the topic of order:created/,
    );
    expect(readBusSettings({ ...kafka, KAFKA_RETRY_TOPIC: 'order.cancelled' }).issues).toEqual([
      'KAFKA_RETRY_TOPIC: order.cancelled is the topic of order:cancelled',
    ]);
    expect(loadConfig({ ...kafka, KAFKA_RETRY_TOPIC: 'payments.retry' }).kafka.retryTopic).toBe('payments.retry');
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
