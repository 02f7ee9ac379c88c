// mocha root hooks for integration tests: the cluster is brought up once, before the first test, and
// the project's CRDs are applied to it.
import path from 'node:path';
import { ensureCluster, kubectl, REPO_ROOT } from './cluster.js';

/** A cold build of the control plane on 2 cores can take this long; later runs start in seconds. */
const CLUSTER_START_TIMEOUT_MS = 60 * 60 * 1000;

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    await ensureCluster();
    kubectl('apply', '--server-side', '--force-conflicts', '-f', path.join(REPO_ROOT, 'crds'));
    kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/mapreducejobs.mapreduce.dev');
  },
};
