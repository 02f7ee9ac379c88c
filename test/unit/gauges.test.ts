import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import type { MapReduceJob, MapReduceJobStatus } from '../../src/api/types.js';
import { ownerReference } from '../../src/controller/ownership.js';
import { controllerGauges } from '../../src/telemetry/gauges.js';
import { makeJob } from '../support/jobbuilder.js';
import { mapPod, reducePod } from '../support/podstates.js';

function job(name: string, status?: MapReduceJobStatus): MapReduceJob {
  const j = makeJob(name).obj();
  j.metadata = { ...j.metadata, namespace: 'ns', uid: `uid-${name}` };
  if (status) j.status = status;
  return j;
}

function ownedBy(owner: MapReduceJob, pod: V1Pod): V1Pod {
  pod.metadata!.ownerReferences = [ownerReference(owner)];
  return pod;
}

describe('controllerGauges', function () {
  it('counts active pods and items not started per job, from the caches alone', function () {
    const running = job('run', {
      phase: 'Running',
      totalItems: 10,
      completedIndexes: '0-2',
      failedIndexes: '3',
    });
    const reducing = job('red', { phase: 'Reducing', totalItems: 2, completedIndexes: '0-1' });
    const done = job('done', { phase: 'Succeeded', totalItems: 1, completedIndexes: '0' });
    const notStarted = job('new');
    const pods = [
      ownedBy(running, mapPod(4, 0, 'run').running().obj()), // active, started
      ownedBy(running, mapPod(5, 0, 'run').obj()), // pending pod: active, started
      ownedBy(running, mapPod(6, 0, 'run').failed(1).obj()), // waiting for its retry: started, not active
      ownedBy(running, mapPod(3, 1, 'run').failed(1).obj()), // recorded as failed: neither
      ownedBy(running, mapPod(0, 0, 'run').succeeded('"a"').obj()), // recorded as done: neither
      mapPod(7, 0, 'run').running().obj(), // no owner: not the job's
      ownedBy(reducing, reducePod(0, 'red').running().obj()),
      ownedBy(done, mapPod(0, 0, 'done').succeeded('"a"').obj()),
    ];
    expect(controllerGauges([running, reducing, done, notStarted], pods, 3)).to.deep.equal({
      jobs: [
        { namespace: 'ns', name: 'run', active: 2, pending: 3 }, // 10 - 3 done - 1 failed - 3 started
        { namespace: 'ns', name: 'red', active: 1, pending: 0 },
        { namespace: 'ns', name: 'done', active: 0, pending: 0 },
      ],
      workQueueDepth: 3,
    });
  });
});
