// npm run test:faults: the fault suite of issue 15 at full size — a 2,000-item job (5 % of the items fail once,
// 1 % for good, traced at ratio 1.0) through 3 SIGKILLs of the operator, a kube-apiserver and an etcd restart,
// a 60 s collector outage, a leader kill with 2 replicas, and finished pods deleted while the operator is
// paused; beside the same job without faults, in the same run. Restarts the local control plane's components:
// never against a shared cluster. docs/reliability.md has the figures of the last run.
import { faultSuiteTest } from './scenario.js';

describe('fault suite (2,000 items)', function () {
  faultSuiteTest(
    'finishes exactly, with every span, through operator kills, control-plane restarts, a collector outage, a leader kill and deleted pods',
    {
      items: 2000,
      parallelism: 100,
      podDuration: '200ms',
      operatorKills: 3,
      collectorOutageMs: 60_000,
      baseline: true,
    },
    60 * 60_000,
    true, // a known issue the checks find fails the full suite (docs/reliability.md)
  );
});
