import { expect } from 'chai';
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { observePod } from '../../src/controller/podobservation.js';
import { at, mapPod } from '../support/podstates.js';

/** Adds a sidecar whose status sorts before the main container's, as a real kubelet lists them (by name). */
function withSidecar(pod: V1Pod, sidecar: V1ContainerStatus['state']): V1Pod {
  pod.spec!.containers.push({ name: 'aaa-sidecar' });
  pod.status!.containerStatuses = [
    { name: 'aaa-sidecar', image: 'x', imageID: '', ready: false, restartCount: 0, state: sidecar },
    ...(pod.status!.containerStatuses ?? []),
  ];
  return pod;
}

describe('observePod', function () {
  const cases: {
    name: string;
    pod: V1Pod;
    expect: { state: string; message?: string; exitCode?: number; reason?: string };
  }[] = [
    {
      name: 'the result is the main container’s termination message, not a sidecar’s sorted first',
      pod: withSidecar(mapPod(0).succeeded('"main"').obj(), {
        terminated: { exitCode: 0, message: 'sidecar says hi', finishedAt: at(1) },
      }),
      expect: { state: 'succeeded', message: '"main"', exitCode: 0 },
    },
    {
      name: 'a failure’s reason and exit code are the main container’s',
      pod: withSidecar(mapPod(0).failed(137, 'OOMKilled').obj(), {
        terminated: { exitCode: 2, reason: 'Error', finishedAt: at(1) },
      }),
      expect: { state: 'failed', exitCode: 137, reason: 'OOMKilled' },
    },
    {
      name: 'a running pod whose sidecar has ended is still active',
      pod: withSidecar(mapPod(0).running().obj(), { terminated: { exitCode: 0, finishedAt: at(1) } }),
      expect: { state: 'active' },
    },
  ];
  for (const tc of cases) {
    it(tc.name, function () {
      const o = observePod(tc.pod)!;
      const seen: Record<string, unknown> = { state: o.state };
      if (o.message !== undefined) seen.message = o.message;
      if (o.exitCode !== undefined) seen.exitCode = o.exitCode;
      if (o.reason !== undefined) seen.reason = o.reason;
      expect(seen).to.deep.equal(tc.expect);
    });
  }
});
