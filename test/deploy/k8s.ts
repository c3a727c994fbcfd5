import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

// Only the fields the deploy tests read; kubernetes-validate checks the rest against the API schemas.
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    fieldRef?: { fieldPath: string };
  };
}

export interface Probe {
  httpGet?: { path: string; port: number | string };
}

export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[] };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string }[];
}

export interface PodSpec {
  containers: Container[];
  securityContext?: SecurityContext;
  terminationGracePeriodSeconds?: number;
  volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
}

export interface Resource<Spec = unknown> {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: Spec;
}

export type Workload = Resource<{
  replicas?: number;
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
}>;

export type Service = Resource<{
  selector: Record<string, string>;
  ports: { name?: string; port: number; targetPort?: number | string }[];
}>;

export type Ingress = Resource<{
  ingressClassName: string;
  rules: {
    host: string;
    http: {
      paths: { path: string; pathType: string; backend: { service: { name: string; port: { number: number } } } }[];
    };
  }[];
}>;

export type CronJob = Resource<{
  schedule: string;
  concurrencyPolicy: string;
  jobTemplate: { spec: { template: { spec: PodSpec } } };
}>;

export type Claim = Resource<{ resources: { requests: { storage: string } } }>;

const root = path.join(__dirname, '..', '..');
export const k8sDir = path.join(root, 'k8s');

function parseDocuments(text: string, source: string): Resource[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const resource = doc.toJS() as Resource | null;
    return resource ? [resource] : [];
  });
}

/**
 * What `kubectl kustomize` renders for a folder, through scripts/kubectl.sh, the same kubectl
 * that scripts/validate-k8s.sh uses. A folder that does not render throws with kustomize's message.
 */
export function render(dir: string): Resource[] {
  let out: string;
  try {
    out = execFileSync('bash', [path.join(root, 'scripts', 'kubectl.sh'), 'kustomize', dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '');
    throw new Error(`kubectl kustomize ${dir} failed: ${stderr.trim()}`, { cause: err });
  }
  const resources = parseDocuments(out, dir);
  if (resources.length === 0) throw new Error(`kubectl kustomize ${dir} rendered nothing`);
  return resources;
}

export const renderOverlay = (name: string) => render(path.join(k8sDir, 'overlays', name));

/** Every document of one manifest file under k8s/, failing on a YAML error rather than skipping it. */
export function loadManifest(file: string): Resource[] {
  return parseDocuments(readFileSync(path.join(k8sDir, file), 'utf8'), file);
}

export function findResource<T extends Resource>(resources: Resource[], kind: string, name: string): T {
  const found = resources.find((r) => r.kind === kind && r.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${resources.map((r) => `${r.kind}/${r.metadata.name}`)}`);
  return found as T;
}

export function onlyContainer(spec: PodSpec): Container {
  expect(spec.containers).toHaveLength(1);
  return spec.containers[0] as Container;
}
