// Every failure ends somewhere: input and templates that can never work fail the job with a stable reason,
// its message and an Event, instead of being retried forever; a healthy job beside them still finishes.
import { expect } from 'chai';
import { cluster, useTestNamespace, waitFor } from '../support/cluster.js';
import { createJob, jobPods, waitForEvent, waitForPhase } from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { startOperator } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';

/** 353 bytes of YAML that expand to 9^9 values through aliases. */
const BILLION_LAUGHS = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...'bcdefghi'.split('').map((n, i) => `${n}: &${n} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
  'items: [*i]',
].join('\n');

describe('failures', function () {
  const ns = useTestNamespace('fail');
  let operator: OperatorProcess | undefined;

  afterEach(async function () {
    await operator?.kill();
  });

  it('fails on what can never work, with a stable reason and an Event, and keeps serving others', async function () {
    operator = await startOperator(ns.name);
    const badName = makeJob('bad-template').items(['a']).obj();
    badName.spec.map.template.spec!.containers[0]!.name = 'Bad_Name';
    await createJob(ns.name, badName);
    await cluster().core.createNamespacedConfigMap({
      namespace: ns.name,
      body: {
        metadata: { name: 'deep' },
        data: { 'items.json': `[${'['.repeat(5000)}${']'.repeat(5000)}]` },
      },
    });
    await createJob(ns.name, makeJob('too-deep').configMapInput('deep', 'items.json').obj());
    await cluster().core.createNamespacedConfigMap({
      namespace: ns.name,
      body: { metadata: { name: 'laughs' }, data: { 'items.yaml': BILLION_LAUGHS } },
    });
    await createJob(ns.name, makeJob('laughs').configMapInput('laughs', 'items.yaml', '$.items').obj());
    await createJob(ns.name, makeJob('falsy').items([null, 0, false]).idPath('$').obj());
    await createJob(ns.name, makeJob('healthy').items([null, 0, false, 'x']).obj());

    const failed: Record<string, { reason?: string; message?: string }> = {};
    for (const name of ['bad-template', 'too-deep', 'laughs', 'falsy']) {
      const job = await waitForPhase(ns.name, name, ['Failed', 'Succeeded']);
      const c = job.status?.conditions?.find((x) => x.type === 'Failed');
      failed[name] = { reason: c?.reason, message: c?.message };
      await waitForEvent(ns.name, name, c?.reason ?? 'none');
    }
    expect(failed).to.deep.equal({
      'bad-template': {
        reason: 'PodTemplateInvalid',
        message: `the API server refused the job's pod: Pod "bad-template-0-0" is invalid: spec.containers[0].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
      },
      'too-deep': {
        reason: 'InputInvalid',
        message: 'spec.input: item 0 is nested more than 1000 levels deep',
      },
      laughs: {
        reason: 'InputInvalid',
        message:
          'spec.input.configMapRef: the input expands to more than 2000000 values (YAML aliases, or a cycle?)',
      },
      falsy: {
        reason: 'InputInvalid',
        message: 'spec.input.idPath: $ gives no string or number for item 0',
      },
    });
    const healthy = await waitForPhase(ns.name, 'healthy', ['Succeeded', 'Failed']);
    expect(healthy.status).to.deep.include({ phase: 'Succeeded', succeededItems: 4 });
    expect(operator.proc.exitCode).to.equal(null);
  });

  it('ends a job whose pods can never be scheduled at its activeDeadlineSeconds, cancelling them', async function () {
    operator = await startOperator(ns.name);
    const job = makeJob('unschedulable').items(['a', 'b']).parallelism(2).activeDeadlineSeconds(3).obj();
    job.spec.map.template.spec!.nodeSelector = { 'mapreduce.dev/no-such-node': 'true' };
    await createJob(ns.name, job);
    const ended = await waitForPhase(ns.name, 'unschedulable', ['Failed', 'Succeeded']);
    expect(ended.status?.conditions?.find((c) => c.type === 'Failed')).to.deep.include({
      status: 'True',
      reason: 'DeadlineExceeded',
      message: 'the job ran longer than spec.activeDeadlineSeconds (3 s)',
    });
    const elapsed = Date.parse(ended.status!.completionTime!) - Date.parse(ended.status!.startTime!);
    expect(elapsed).to.be.at.least(3000); // not before its deadline
    await waitForEvent(ns.name, 'unschedulable', 'DeadlineExceeded');
    await waitFor('its pods to go', async () => (await jobPods(ns.name, 'unschedulable')).length === 0);
  });
});
