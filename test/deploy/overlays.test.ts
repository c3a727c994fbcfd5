import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findResource, k8sDir, loadManifest, render, renderOverlay, type Resource, type Workload } from './k8s';

// What a ticketing cluster already runs (the course's infra/k8s): each Deployment <app>-depl labels its
// pods `app: <app>` and each Service <app>-srv selects on that label alone. Some copies of the course name
// the payments database payments-mongo.
const COURSE_APPS = ['auth', 'client', 'expiration', 'nats', 'orders', 'payments', 'tickets'].flatMap((app) =>
  app === 'client' || app === 'nats' ? [app] : [app, `${app}-${app === 'expiration' ? 'redis' : 'mongo'}`],
);
const COURSE_NAMES = [...COURSE_APPS.flatMap((app) => [`${app}-depl`, `${app}-srv`]), 'ingress-srv', 'payments-mongo'];

const overlays = { ticketing: renderOverlay('ticketing'), standalone: renderOverlay('standalone') };
type Labels = Record<string, string>;
const selects = (selector: Labels, labels: Labels) => Object.entries(selector).every(([k, v]) => labels[k] === v);

function podLabels(r: Resource): Labels | undefined {
  const spec = r.spec as {
    template?: { metadata?: { labels?: Labels } };
    jobTemplate?: { spec: { template: { metadata?: { labels?: Labels } } } };
  };
  return (spec.template ?? spec.jobTemplate?.spec.template)?.metadata?.labels;
}

function selectorOf(r: Resource): Labels | undefined {
  const spec = r.spec as { selector?: Labels & { matchLabels?: Labels } };
  if (!spec.selector) return undefined;
  return r.kind === 'Service' ? spec.selector : spec.selector.matchLabels;
}

const env = (resources: Resource[], name: string) =>
  findResource<Workload>(resources, 'Deployment', 'payments').spec.template.spec.containers[0]?.env?.find(
    (e) => e.name === name,
  )?.value;
const hostOf = (url: string | undefined) => (url ? new URL(url).hostname : undefined);

describe('the ticketing overlay, applied into a running ticketing cluster', () => {
  const resources = overlays.ticketing;

  test('adds no NATS and no ingress: it uses the cluster’s nats-srv and ingress', () => {
    expect(resources.filter((r) => r.kind === 'Ingress')).toEqual([]);
    expect(JSON.stringify(resources)).not.toMatch(/"image":"nats[-:]/);
    expect(resources.map((r) => r.metadata.name)).not.toContain('nats-srv');
    expect(hostOf(env(resources, 'NATS_URL'))).toBe('nats-srv');
  });

  test('names no resource as the course names one of its own', () => {
    expect(resources.map((r) => r.metadata.name).filter((n) => COURSE_NAMES.includes(n))).toEqual([]);
  });

  test('labels no pod that a course Service selects, and selects no course pod', () => {
    const coursePods = COURSE_APPS.map((app) => ({ app }));
    const labelled = resources.map(podLabels).filter((l) => l !== undefined);
    const selectors = resources.map(selectorOf).filter((s) => s !== undefined);
    // What is checked is there to check: the Deployment's pods and the Service's selector at least.
    expect(labelled.length).toBeGreaterThan(0);
    expect(selectors.length).toBeGreaterThan(0);
    for (const labels of labelled) expect(coursePods.filter((s) => selects(s, labels))).toEqual([]);
    for (const selector of selectors) expect(coursePods.filter((l) => selects(selector, l))).toEqual([]);
  });

  test('subscribes under a queue group of its own, not the course payments service’s', () => {
    expect(env(resources, 'QUEUE_GROUP_NAME')).toBe('ticketing-payments');
  });
});

describe('the standalone overlay, a cluster of its own', () => {
  const resources = overlays.standalone;

  test('brings NATS Streaming behind nats-srv, where the service looks for it', () => {
    const nats = findResource<Workload>(resources, 'StatefulSet', 'nats');
    const srv = findResource<Resource<{ selector: Labels }>>(resources, 'Service', 'nats-srv');
    expect(selects(srv.spec.selector, nats.spec.template.metadata.labels)).toBe(true);
    expect(hostOf(env(resources, 'NATS_URL'))).toBe('nats-srv');
  });

  test('brings an ingress for /api/payments', () => {
    expect(resources.filter((r) => r.kind === 'Ingress').map((r) => r.metadata.name)).toEqual(['payments']);
  });
});

describe.each(Object.entries(overlays))('the %s overlay', (_name, resources) => {
  test('points the service and the backup at a Service of its own MongoDB', () => {
    const mongo = findResource<Workload>(resources, 'StatefulSet', 'payments-db');
    const host = hostOf(env(resources, 'MONGO_URI'));
    const srv = findResource<Resource<{ selector: Labels }>>(resources, 'Service', host ?? '');
    expect(selects(srv.spec.selector, mongo.spec.template.metadata.labels)).toBe(true);
    const backup = JSON.stringify(findResource(resources, 'CronJob', 'payments-backup').spec);
    expect(backup).toContain(`mongodb://${host}:27017/payments`);
  });

  test('selects with every selector the pods of exactly one workload', () => {
    const pods = resources.flatMap((r) => {
      const labels = r.kind === 'CronJob' ? undefined : podLabels(r);
      return labels ? [labels] : [];
    });
    for (const r of resources) {
      const selector = selectorOf(r);
      if (selector)
        expect([r.kind, r.metadata.name, pods.filter((l) => selects(selector, l)).length]).toEqual([
          r.kind,
          r.metadata.name,
          1,
        ]);
    }
  });
});

describe('k8s/', () => {
  function manifests(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const file = path.join(dir, e.name);
      if (e.isDirectory()) return manifests(file);
      return /\.ya?ml$/.test(e.name) && e.name !== 'kustomization.yaml' ? [path.relative(k8sDir, file)] : [];
    });
  }

  test('every manifest is rendered by at least one overlay', () => {
    const rendered = new Set(Object.values(overlays).flatMap((rs) => rs.map((r) => `${r.kind}/${r.metadata.name}`)));
    const left = manifests(k8sDir).flatMap((file) =>
      loadManifest(file)
        .map((r) => `${r.kind}/${r.metadata.name}`)
        .filter((id) => !rendered.has(id)),
    );
    expect(left).toEqual([]);
  });

  test('an overlay that does not render fails, with kustomize’s reason', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'overlay-'));
    try {
      writeFileSync(path.join(dir, 'kustomization.yaml'), 'bases:\n  - ../no-such-base\n');
      expect(() => render(dir)).toThrow(/kubectl kustomize .* failed: .*no-such-base/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
