// Access to the cluster integration tests run against: the local control plane (hack/cluster-up.sh)
// or, with TEST_KUBECONFIG set, any cluster the developer points at (e.g. kind on a laptop).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AppsV1Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
} from '@kubernetes/client-node';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const LOCAL_KUBECONFIG = path.join(REPO_ROOT, '.cluster', 'kubeconfig');

/** How long to wait for the cluster to reflect a change; generous because CI machines are shared. */
export const DEFAULT_WAIT_MS = 60_000;
/** Poll interval of waitFor: short enough to observe kwok's 100 ms stage delays in order. */
const POLL_INTERVAL_MS = 100;

export function usingLocalControlPlane(): boolean {
  return !process.env.TEST_KUBECONFIG;
}

export function kubeconfigPath(): string {
  return process.env.TEST_KUBECONFIG ?? LOCAL_KUBECONFIG;
}

export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath());
  return kc;
}

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  batch: BatchV1Api;
  apps: AppsV1Api;
  coordination: CoordinationV1Api;
  custom: CustomObjectsApi;
}

let clients: Clients | undefined;

export function cluster(): Clients {
  if (!clients) {
    const kc = loadKubeConfig();
    clients = {
      kc,
      core: kc.makeApiClient(CoreV1Api),
      batch: kc.makeApiClient(BatchV1Api),
      apps: kc.makeApiClient(AppsV1Api),
      coordination: kc.makeApiClient(CoordinationV1Api),
      custom: kc.makeApiClient(CustomObjectsApi),
    };
  }
  return clients;
}

export function kubectl(...args: string[]): string {
  return execFileSync('kubectl', ['--kubeconfig', kubeconfigPath(), ...args], { encoding: 'utf8' });
}

export async function isClusterReady(): Promise<boolean> {
  if (!existsSync(kubeconfigPath())) return false;
  try {
    const nodes = await cluster().core.listNode();
    return nodes.items.length > 0;
  } catch {
    return false;
  }
}

/** Brings up the local control plane unless a cluster is already answering. */
export async function ensureCluster(): Promise<void> {
  if (await isClusterReady()) return;
  if (!usingLocalControlPlane()) {
    throw new Error(`TEST_KUBECONFIG=${kubeconfigPath()} is set but that cluster does not answer`);
  }
  execFileSync('bash', [path.join(REPO_ROOT, 'hack', 'cluster-up.sh')], { stdio: 'inherit' });
  clients = undefined;
  if (!(await isClusterReady()))
    throw new Error('hack/cluster-up.sh finished but the cluster does not answer');
}

/** Thrown by a waitFor probe to stop waiting at once (the thing waited for can no longer happen). */
export class WaitAborted extends Error {}

/**
 * Longest wait for one probe's answer. client-node sets no request timeout, and a request sent just as the
 * kube-apiserver restarts (the fault suite restarts it) can wait forever; a probe that does not answer in
 * this long counts as failed, and the next one is sent (client-node opens a fresh connection per request).
 */
const PROBE_TIMEOUT_MS = 30_000;

/** The probe's answer, or a rejection once PROBE_TIMEOUT_MS has passed without one. */
async function answerOf<T>(probe: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the probe did not answer in ${PROBE_TIMEOUT_MS} ms`)),
      PROBE_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([probe(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = DEFAULT_WAIT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await answerOf(probe);
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      if (err instanceof WaitAborted) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A fresh namespace with its default ServiceAccount in place (pods are refused before it exists). */
export async function createTestNamespace(prefix = 't'): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  const { core } = cluster();
  await core.createNamespace({ body: { metadata: { name, labels: { 'mapreduce.dev/test': 'true' } } } });
  await waitFor(`default ServiceAccount in ${name}`, async () => {
    await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
    return true;
  });
  return name;
}

export async function deleteTestNamespace(name: string): Promise<void> {
  await cluster().core.deleteNamespace({ name, propagationPolicy: 'Background' });
}

/** Registers mocha hooks that give each test a fresh namespace, deleted afterwards. */
export function useTestNamespace(prefix?: string): { readonly name: string } {
  const holder = { name: '' };
  beforeEach(async function () {
    holder.name = await createTestNamespace(prefix);
  });
  afterEach(async function () {
    if (holder.name) await deleteTestNamespace(holder.name);
  });
  return holder;
}
