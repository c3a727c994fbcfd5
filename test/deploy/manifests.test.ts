import { readFileSync } from 'node:fs';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config';
import { opsRouter } from '../../src/http/health-router';
import { createMetrics } from '../../src/metrics';
import {
  findResource,
  onlyContainer,
  renderOverlay,
  type Claim,
  type CronJob,
  type EnvVar,
  type Ingress,
  type Resource,
  type Service,
  type Workload,
} from './k8s';

const root = path.join(__dirname, '..', '..');
const LIVE = '/api/payments/health/live';
const READY = '/api/payments/health';
const POD_NAME = 'payments-7c9d8b6f5-x2k4q';

// The ticketing overlay is the base as it is; overlays.test.ts checks what each overlay adds.
const base = renderOverlay('ticketing');
const depl = findResource<Workload>(base, 'Deployment', 'payments');
const pod = depl.spec.template.spec;
const app = onlyContainer(pod);
const envOf = (vars: EnvVar[] | undefined, name: string) => vars?.find((e) => e.name === name);

/** The environment a pod would get, with secrets and the pod name filled in. */
function podEnv(vars: EnvVar[]): Record<string, string> {
  return Object.fromEntries(
    vars.map((e) => {
      if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') return [e.name, POD_NAME];
      if (e.valueFrom?.secretKeyRef) return [e.name, `secret-${e.valueFrom.secretKeyRef.key}`];
      return [e.name, e.value ?? ''];
    }),
  );
}

describe('payments Deployment', () => {
  test('reads JWT_KEY and STRIPE_KEY from their secrets, never from a literal value', () => {
    expect(envOf(app.env, 'JWT_KEY')).toEqual({
      name: 'JWT_KEY',
      valueFrom: { secretKeyRef: { name: 'jwt-secret', key: 'JWT_KEY' } },
    });
    expect(envOf(app.env, 'STRIPE_KEY')).toEqual({
      name: 'STRIPE_KEY',
      valueFrom: { secretKeyRef: { name: 'stripe-secret', key: 'STRIPE_KEY' } },
    });
  });

  test('gives each pod its own NATS client id, its pod name', () => {
    expect(envOf(app.env, 'NATS_CLIENT_ID')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
  });

  test('sets an environment that the service config accepts, pointing at the cluster services', () => {
    const config = loadConfig(podEnv(app.env ?? []));
    expect(config.nats).toMatchObject({
      url: 'http://nats-srv:4222',
      clusterId: 'ticketing',
      clientId: POD_NAME,
      queueGroup: 'ticketing-payments',
    });
    expect(config.mongoUri).toBe('mongodb://payments-db:27017/payments');
    expect(config.port).toBe(3000);
    // A replayed history is older than the default hour; its out-of-order messages must be retried.
    expect(config.events.maxAgeMs).toBeGreaterThan(365 * 24 * 3600 * 1000);
  });

  test('probes readiness and liveness on the health routes of the container port', () => {
    expect(app.image).toBe('ticketing/payments');
    expect(app.readinessProbe?.httpGet?.path).toBe(READY);
    expect(app.livenessProbe?.httpGet?.path).toBe(LIVE);
    const port = app.ports?.find((p) => p.name === app.livenessProbe?.httpGet?.port);
    expect(port?.containerPort).toBe(3000);
  });

  test('gives the service time to drain before it is killed', () => {
    const config = loadConfig(podEnv(app.env ?? []));
    const preStopMs = (app.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
    expect((pod.terminationGracePeriodSeconds ?? 30) * 1000).toBeGreaterThan(preStopMs + config.shutdownTimeoutMs);
  });

  test('runs as non-root on a read-only root with no capabilities', () => {
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(pod.securityContext?.runAsUser).not.toBe(0);
    expect(app.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
  });
});

describe('health routes the probes call', () => {
  test.each([LIVE, READY])('GET %s is served by the ops router', async (probePath) => {
    const ops = opsRouter({ mongo: () => true, nats: () => true }, createMetrics());
    await request(express().use(ops)).get(probePath).expect(200);
  });
});

describe('cluster wiring', () => {
  const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
    Object.entries(selector).every(([k, v]) => labels[k] === v);

  test('the payments Service sends port 3000 to the pods', () => {
    const srv = findResource<Service>(base, 'Service', 'payments');
    expect(selects(srv.spec.selector, depl.spec.template.metadata.labels)).toBe(true);
    expect(srv.spec.ports).toEqual([expect.objectContaining({ port: 3000, targetPort: 'http' })]);
  });

  test("the standalone overlay's ingress routes /api/payments to the payments Service", () => {
    const ingress = findResource<Ingress>(renderOverlay('standalone'), 'Ingress', 'payments');
    expect(ingress.spec.ingressClassName).toBe('nginx');
    const rule = ingress.spec.rules.find((r) => r.host === 'ticketing.dev');
    expect(rule?.http.paths).toContainEqual({
      path: '/api/payments',
      pathType: 'Prefix',
      backend: { service: { name: 'payments', port: { number: 3000 } } },
    });
  });

  test('the autoscaler and disruption budget cover the payments pods', () => {
    const hpa = findResource<Resource<Record<string, unknown>>>(base, 'HorizontalPodAutoscaler', 'payments');
    expect(hpa.spec).toMatchObject({
      scaleTargetRef: { kind: 'Deployment', name: 'payments' },
      minReplicas: 2,
      maxReplicas: 6,
    });
    const pdb = findResource<Resource<{ minAvailable: number; selector: { matchLabels: Record<string, string> } }>>(
      base,
      'PodDisruptionBudget',
      'payments',
    );
    expect(pdb.spec.minAvailable).toBe(1);
    expect(selects(pdb.spec.selector.matchLabels, depl.spec.template.metadata.labels)).toBe(true);
  });

  test("the standalone overlay's NATS Streaming runs cluster ticketing on the ports nats-srv exposes", () => {
    const standalone = renderOverlay('standalone');
    const nats = onlyContainer(findResource<Workload>(standalone, 'StatefulSet', 'nats').spec.template.spec);
    expect(nats.image).toBe('nats-streaming:0.25.6');
    expect(nats.args?.join(' ')).toBe(
      '-store file -dir /data -cid ticketing -p 4222 -m 8222 -hbi 5s -hbt 5s -hbf 2 -SD',
    );
    const srv = findResource<Service>(standalone, 'Service', 'nats-srv');
    expect(srv.spec.ports.map((p) => p.port).sort()).toEqual([4222, 8222]);
  });

  test('the payments-db Service serves the MongoDB StatefulSet', () => {
    const mongo = findResource<Workload>(base, 'StatefulSet', 'payments-db');
    expect(onlyContainer(mongo.spec.template.spec).image).toBe('mongo:7');
    const srv = findResource<Service>(base, 'Service', 'payments-db');
    expect(selects(srv.spec.selector, mongo.spec.template.metadata.labels)).toBe(true);
    expect(srv.spec.ports.map((p) => p.port)).toEqual([27017]);
  });
});

describe('payments-backup CronJob', () => {
  const cron = findResource<CronJob>(base, 'CronJob', 'payments-backup');
  const spec = cron.spec.jobTemplate.spec.template.spec;
  const backup = onlyContainer(spec);

  test('runs the backup CLI every 6 hours, one run at a time', () => {
    expect(cron.spec.schedule).toBe('0 */6 * * *');
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    expect(backup.image).toBe(app.image);
    expect(backup.command).toEqual(['node', 'dist/tools/backup.js', '--out', '/backups', '--keep', '$(BACKUP_KEEP)']);
    expect(envOf(backup.env, 'BACKUP_KEEP')?.value).toBe('28');
    expect(envOf(backup.env, 'MONGO_URI')).toEqual(envOf(app.env, 'MONGO_URI'));
  });

  test('writes to the payments-backups claim mounted at /backups', () => {
    const claim = findResource<Claim>(base, 'PersistentVolumeClaim', 'payments-backups');
    expect(claim.spec.resources.requests.storage).toBe('5Gi');
    const volume = spec.volumes?.find((v) => v.persistentVolumeClaim?.claimName === 'payments-backups');
    expect(backup.volumeMounts).toContainEqual({ name: volume?.name, mountPath: '/backups' });
  });
});

describe('Dockerfile', () => {
  // Continuation lines joined, so that each instruction is one line.
  const lines = readFileSync(path.join(root, 'Dockerfile'), 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages = lines.flatMap((l, i) => (/^FROM /i.test(l) ? [i] : []));
  const runtime = lines.slice(stages.at(-1));
  const instruction = (name: string) => runtime.filter((l) => l.toUpperCase().startsWith(`${name} `));

  test('runs the final image as a user that is not root', () => {
    const user = instruction('USER').at(-1)?.split(/\s+/)[1]?.split(':')[0];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
  });

  test('checks health on the liveness route of port 3000', () => {
    expect(instruction('HEALTHCHECK')).toEqual([expect.stringContaining(`http://127.0.0.1:3000${LIVE}`)]);
    expect(instruction('EXPOSE')).toEqual(['EXPOSE 3000']);
  });

  test('bakes in no secret', () => {
    expect(lines.join('\n')).not.toMatch(/JWT_KEY|STRIPE_KEY|sk_(test|live)_/);
  });
});

describe('docker-compose.yml', () => {
  interface ComposeService {
    image?: string;
    command?: string[];
    profiles?: string[];
    ports?: string[];
    environment: Record<string, string>;
  }
  // Merge keys: the JetStream service takes the default one's environment and changes a few keys.
  const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  const service = (name: string) => compose.services[name] ?? ({ environment: {} } as ComposeService);

  test('gives the service an environment the config accepts, with dev-only keys', () => {
    const config = loadConfig(service('payments').environment);
    expect(config.provider.stripeKey).toMatch(/^sk_test_/);
    expect(config.provider.stripeApiBase).toBe('http://stripe-mock:12111');
    expect(config.nats.clusterId).toBe('ticketing');
  });

  test('starts NATS Streaming and the service on it without a profile, as before', () => {
    expect(service('payments').profiles).toBeUndefined();
    expect(service('nats').profiles).toBeUndefined();
    expect(service('nats').image).toMatch(/^nats-streaming:/);
    expect(service('payments').environment.BUS).toBeUndefined();
  });

  test('the jetstream profile runs the service with BUS=jetstream on a nats:2 server started with -js', () => {
    const js = service('payments-js');
    expect(js.profiles).toEqual(['jetstream']);
    expect(js.environment).toMatchObject({ BUS: 'jetstream', NATS_URL: 'nats://nats-js:4222' });
    expect(loadConfig(js.environment).provider.stripeKey).toMatch(/^sk_test_/);
    const server = service('nats-js');
    expect(server.profiles).toEqual(['jetstream']);
    expect(server.image).toBe('nats:2');
    expect(server.command).toContain('-js');
    // Both can run at once: another host port, another database.
    expect(js.ports).not.toEqual(service('payments').ports);
    expect(js.environment.MONGO_URI).not.toBe(service('payments').environment.MONGO_URI);
  });
});
