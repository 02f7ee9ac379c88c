// What GitOps tools see of a job in each phase, computed by the real libraries from the objects the API
// server serves: kstatus (Flux, kpt) must say InProgress until the job is done, Current when it succeeded
// and Failed when it failed; Argo CD's health check must agree, with the same messages.
import { expect } from 'chai';
import { kubectl, useTestNamespace } from '../support/cluster.js';
import { createJob, getJob, waitForPhase } from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { argoHealth, kstatusOf } from '../support/health.js';
import type { Health } from '../support/health.js';
import { startOperator } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';

const FAILED_MESSAGE = '1 of 1 items failed, more than the failure policy allows';

describe('kstatus and Argo CD health', function () {
  const ns = useTestNamespace('ks');
  let operator: OperatorProcess | undefined;

  afterEach(async function () {
    await operator?.kill();
  });

  it('a job no operator has seen yet is InProgress, not Current', async function () {
    // No operator watches this namespace: the job stays as the API server stored it.
    await createJob(ns.name, makeJob('pending').items(['a']).obj());
    expect(kstatusOf(ns.name)).to.deep.equal({
      pending: {
        status: 'InProgress',
        message: 'MapReduceJob generation is 1, but latest observed generation is 0',
      },
    });
    expect(
      argoHealth(JSON.parse(kubectl('get', 'mrj', 'pending', '-n', ns.name, '-o', 'json')) as object),
    ).to.deep.equal({
      status: 'Progressing',
      message: 'Waiting for the operator to start the job',
    });
  });

  it('says InProgress while a job runs, reduces or is suspended; Current when it succeeded; Failed when it failed', async function () {
    operator = await startOperator(ns.name);
    const never = 'sim.mapreduce.dev/never-finish';
    await createJob(ns.name, makeJob('running').items(['a']).mapAnnotation(never, 'true').obj());
    await createJob(
      ns.name,
      makeJob('reducing')
        .items(['a'])
        .reduce('r', { [never]: 'true' })
        .obj(),
    );
    await createJob(ns.name, makeJob('succeeded').items(['a', 'b']).obj());
    await createJob(
      ns.name,
      makeJob('failed')
        .items(['a'])
        .backoffLimitPerItem(0)
        .mapAnnotation('sim.mapreduce.dev/exit-code', '1')
        .obj(),
    );
    await createJob(ns.name, makeJob('suspended').items(['a']).suspend().obj());
    await waitForPhase(ns.name, 'running', ['Running']);
    await waitForPhase(ns.name, 'reducing', ['Reducing']);
    await waitForPhase(ns.name, 'succeeded', ['Succeeded']);
    await waitForPhase(ns.name, 'failed', ['Failed']);
    await waitForPhase(ns.name, 'suspended', ['Suspended']);

    const expected: Record<string, { kstatus: Health; argo: Health }> = {
      running: {
        kstatus: { status: 'InProgress', message: 'Running: 0/1 items succeeded, 0 failed' },
        argo: { status: 'Progressing', message: 'Running: 0/1 items succeeded, 0 failed' },
      },
      reducing: {
        kstatus: { status: 'InProgress', message: 'Reducing: 1/1 items succeeded, 0 failed' },
        argo: { status: 'Progressing', message: 'Reducing: 1/1 items succeeded, 0 failed' },
      },
      succeeded: {
        kstatus: { status: 'Current', message: 'Resource is Ready' },
        argo: { status: 'Healthy', message: '2/2 items succeeded, 0 failed' },
      },
      failed: {
        kstatus: { status: 'Failed', message: FAILED_MESSAGE },
        argo: { status: 'Degraded', message: `FailedItemsExceeded: ${FAILED_MESSAGE}` },
      },
      suspended: {
        kstatus: { status: 'InProgress', message: 'Suspended: 0/1 items succeeded, 0 failed' },
        argo: { status: 'Suspended', message: 'Suspended: 0/1 items succeeded, 0 failed' },
      },
    };
    const kstatus = kstatusOf(ns.name);
    const seen: Record<string, { kstatus: Health; argo: Health }> = {};
    for (const name of Object.keys(expected)) {
      seen[name] = { kstatus: kstatus[name]!, argo: argoHealth(await getJob(ns.name, name)) };
    }
    expect(seen).to.deep.equal(expected);

    // kubectl wait works on the same conditions.
    expect(
      kubectl('wait', '-n', ns.name, '--for=condition=Ready', '--timeout=5s', 'mrj/succeeded').trim(),
    ).to.equal('mapreducejob.mapreduce.dev/succeeded condition met');
    expect(
      kubectl('wait', '-n', ns.name, '--for=condition=Complete', '--timeout=5s', 'mrj/succeeded').trim(),
    ).to.equal('mapreducejob.mapreduce.dev/succeeded condition met');
    expect(
      kubectl('wait', '-n', ns.name, '--for=condition=Stalled', '--timeout=5s', 'mrj/failed').trim(),
    ).to.equal('mapreducejob.mapreduce.dev/failed condition met');
  });
});
