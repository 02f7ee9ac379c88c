// The fault suite's short version, part of npm test (.mocharc.integration.json: after the integration tests,
// since it restarts the control plane's kube-apiserver and etcd): every fault of `npm run test:faults`
// (test/faults/) once, on a 200-item job (10 items fail once, 2 for good, traced at ratio 1.0): a SIGKILL of the
// operator, a kube-apiserver and an etcd restart, a 10 s collector outage, a leader kill with 2 replicas, and
// finished pods deleted while the operator is paused; then the same exact checks. No run without faults beside
// it, to keep it short.
import { faultSuiteTest } from './scenario.js';

describe('fault suite, short', function () {
  faultSuiteTest(
    'finishes a 200-item job exactly, with every span, through each fault once',
    {
      items: 200,
      parallelism: 20,
      podDuration: '1s',
      operatorKills: 1,
      collectorOutageMs: 10_000,
      baseline: false,
    },
    15 * 60_000,
    false, // known issues are printed, not asserted here: npm run test:faults asserts them
  );
});
