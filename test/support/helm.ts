// The chart and the project's Helm (hack/tool-path.sh helm), and a kubeconfig that authenticates as a
// ServiceAccount with nothing but its token, for tests that prove what an installed release may do.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeconfigPath, kubectl, REPO_ROOT } from './cluster.js';

export const CHART = path.join(REPO_ROOT, 'charts', 'mapreduce-operator');
/** The Kubernetes version charts are rendered for offline: the local control plane's minor. */
export const KUBE_VERSION = '1.33.0';

export function helm(...args: string[]): string {
  const bin = execFileSync('bash', [path.join(REPO_ROOT, 'hack', 'tool-path.sh'), 'helm'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return execFileSync(bin, args, { encoding: 'utf8', stdio: 'pipe' });
}

/** What Helm wrote to stderr when the command failed; '' when it succeeded. */
export function helmError(...args: string[]): string {
  try {
    helm(...args);
    return '';
  } catch (err) {
    return String((err as { stderr?: string }).stderr);
  }
}

/** A kubeconfig file for the cluster under test that presents only this ServiceAccount's token. */
export function serviceAccountKubeconfig(namespace: string, serviceAccount: string): string {
  const token = kubectl('create', 'token', serviceAccount, '-n', namespace).trim();
  const admin = new KubeConfig();
  admin.loadFromFile(kubeconfigPath());
  const cluster = admin.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: serviceAccount, token }],
    contexts: [{ name: serviceAccount, cluster: cluster.name, user: serviceAccount }],
    currentContext: serviceAccount,
  });
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'sa-')), 'kubeconfig');
  writeFileSync(file, kc.exportConfig());
  return file;
}
