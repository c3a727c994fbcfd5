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

const k8sDir = path.join(__dirname, '..', '..', 'k8s');

/** Every document of one manifest file, failing on a YAML error rather than skipping it. */
export function loadManifest(file: string): Resource[] {
  return parseAllDocuments(readFileSync(path.join(k8sDir, file), 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as Resource;
  });
}

export function findResource<T extends Resource>(file: string, kind: string, name: string): T {
  const found = loadManifest(file).find((r) => r.kind === kind && r.metadata.name === name);
  if (!found) throw new Error(`${file} has no ${kind} ${name}`);
  return found as T;
}

export function onlyContainer(spec: PodSpec): Container {
  expect(spec.containers).toHaveLength(1);
  return spec.containers[0] as Container;
}
