// mocha root hooks for integration tests: the cluster is brought up once, before the first test.
import { ensureCluster } from './cluster.js';

/** A cold build of the control plane on 2 cores can take this long; later runs start in seconds. */
const CLUSTER_START_TIMEOUT_MS = 60 * 60 * 1000;

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    await ensureCluster();
  },
};
