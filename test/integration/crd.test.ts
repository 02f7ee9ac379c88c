// The API server itself refuses bad MapReduceJobs, with messages that name the field.
import { expect } from 'chai';
import { ApiException } from '@kubernetes/client-node';
import type { MapReduceJob } from '../../src/api/types.js';
import { kubectl, useTestNamespace } from '../support/cluster.js';
import { createJob, getJob, patchJobSpec } from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';

async function rejection(namespace: string, job: MapReduceJob): Promise<string> {
  try {
    await createJob(namespace, job);
  } catch (err) {
    if (err instanceof ApiException) return String(err.body);
    throw err;
  }
  throw new Error(`job ${job.metadata.name} was accepted`);
}

describe('MapReduceJob CRD', function () {
  const ns = useTestNamespace('crd');

  const invalid: { name: string; job: () => MapReduceJob; message: string }[] = [
    {
      name: 'both input sources',
      job: () => {
        const j = makeJob('both').items(['a']).obj();
        j.spec.input.configMapRef = { name: 'cm', key: 'k' };
        return j;
      },
      message: '\\"spec.input\\" must validate one and only one schema (oneOf). Found 2 valid alternatives',
    },
    {
      name: 'no input source',
      job: () => {
        const j = makeJob('none').obj();
        j.spec.input = {};
        return j;
      },
      message: '\\"spec.input\\" must validate one and only one schema (oneOf). Found none valid',
    },
    {
      name: 'parallelism 0',
      job: () => makeJob('p0').items(['a']).parallelism(0).obj(),
      message:
        'spec.map.parallelism: Invalid value: 0: spec.map.parallelism in body should be greater than or equal to 1',
    },
    {
      name: 'a percentage over 100',
      job: () => makeJob('pct').items(['a']).maxFailedItemsPercent(101).obj(),
      message:
        'spec.failurePolicy.maxFailedItemsPercent: Invalid value: 101: spec.failurePolicy.maxFailedItemsPercent in body should be less than or equal to 100',
    },
    {
      name: 'both failure limits',
      job: () => {
        const j = makeJob('limits').items(['a']).obj();
        j.spec.failurePolicy = { maxFailedItems: 1, maxFailedItemsPercent: 5 };
        return j;
      },
      message: 'spec.failurePolicy may set maxFailedItems or maxFailedItemsPercent, not both',
    },
    {
      name: 'a template without containers',
      job: () => {
        const j = makeJob('empty').items(['a']).obj();
        j.spec.map.template.spec!.containers = [];
        return j;
      },
      message:
        'spec.map.template.spec.containers: Invalid value: 0: spec.map.template.spec.containers in body should have at least 1 items',
    },
    {
      name: 'a JSONPath that does not start with $',
      job: () => makeJob('jp').configMapInput('cm', 'k', 'files[*]').obj(),
      message: 'spec.input.jsonPath: Invalid value: \\"files[*]\\": spec.input.jsonPath in body should match',
    },
    {
      name: 'an attempt deadline beyond the Pod limit',
      job: () => {
        const j = makeJob('deadline').items(['a']).obj();
        j.spec.map.activeDeadlineSeconds = 2 ** 31;
        return j;
      },
      message: 'spec.map.activeDeadlineSeconds in body should be less than or equal to 2147483647',
    },
    {
      name: 'a job deadline beyond the limit',
      job: () =>
        makeJob('jobdeadline')
          .items(['a'])
          .activeDeadlineSeconds(2 ** 31)
          .obj(),
      message: 'spec.activeDeadlineSeconds in body should be less than or equal to 2147483647',
    },
    {
      name: 'a name too long for its pods’ job-name label',
      job: () => makeJob('n'.repeat(64)).items(['a']).obj(),
      message: 'metadata.name may be at most 63 characters',
    },
    {
      name: 'a span attribute with a reserved key',
      job: () =>
        makeJob('reserved')
          .items(['a'])
          .telemetry({ attributes: { 'mapreduce.job.name': 'x' } })
          .obj(),
      message: "spec.telemetry.attributes may not set the operator's own keys",
    },
    {
      name: 'a baggage key that is not a W3C token',
      job: () =>
        makeJob('baggage')
          .items(['a'])
          .telemetry({ baggage: { 'two words': 'x' } })
          .obj(),
      message: 'spec.telemetry.baggage keys must be W3C baggage tokens',
    },
  ];
  for (const tc of invalid) {
    it(`refuses ${tc.name}, naming the field`, async function () {
      expect(await rejection(ns.name, tc.job())).to.contain(tc.message);
    });
  }

  it('fills in defaults', async function () {
    await createJob(ns.name, makeJob('defaults').items(['a']).suspend().obj());
    const job = await getJob(ns.name, 'defaults');
    expect(job.spec.map.parallelism).to.equal(10);
    expect(job.spec.map.backoffLimitPerItem).to.equal(2);
    expect(job.spec.input.offset).to.equal(0);
  });

  const immutable: { field: string; patch: Record<string, unknown> }[] = [
    { field: 'map.backoffLimitPerItem', patch: { map: { backoffLimitPerItem: 5 } } },
    { field: 'map.activeDeadlineSeconds', patch: { map: { activeDeadlineSeconds: 30 } } },
    { field: 'telemetry', patch: { telemetry: { sampleRatio: 0.5 } } },
  ];
  for (const tc of immutable) {
    it(`keeps spec.${tc.field} immutable`, async function () {
      await createJob(ns.name, makeJob('frozen').items(['a']).suspend().obj());
      let message = '';
      try {
        await patchJobSpec(ns.name, 'frozen', tc.patch);
      } catch (err) {
        message = err instanceof ApiException ? String(err.body) : String(err);
      }
      expect(message).to.contain(`spec.${tc.field} is immutable`);
    });
  }

  it('lets failurePolicy and activeDeadlineSeconds change', async function () {
    await createJob(ns.name, makeJob('thawed').items(['a']).suspend().obj());
    await patchJobSpec(ns.name, 'thawed', {
      failurePolicy: { maxFailedItems: 3 },
      activeDeadlineSeconds: 600,
    });
    const job = await getJob(ns.name, 'thawed');
    expect([job.spec.failurePolicy, job.spec.activeDeadlineSeconds]).to.deep.equal([
      { maxFailedItems: 3 },
      600,
    ]);
  });

  it('keeps the input and templates immutable but lets suspend and parallelism change', async function () {
    await createJob(ns.name, makeJob('immutable').configMapInput('a', 'k').suspend().obj());
    let message = '';
    try {
      await patchJobSpec(ns.name, 'immutable', { input: { configMapRef: { name: 'b', key: 'k' } } });
    } catch (err) {
      message = err instanceof ApiException ? String(err.body) : String(err);
    }
    expect(message).to.contain('spec.input is immutable');
    await patchJobSpec(ns.name, 'immutable', { suspend: false, map: { parallelism: 3 } });
    const job = await getJob(ns.name, 'immutable');
    expect([job.spec.suspend, job.spec.map.parallelism]).to.deep.equal([false, 3]);
  });

  it('is listed by its short name with printer columns', async function () {
    await createJob(ns.name, makeJob('cols').items(['a']).suspend().obj());
    const header = kubectl('get', 'mrj', '-n', ns.name, '-o', 'wide')
      .split('\n')[0]!
      .split(/\s+/)
      .filter(Boolean);
    expect(header).to.deep.equal([
      'NAME',
      'PHASE',
      'SUCCEEDED',
      'TOTAL',
      'FAILED',
      'AGE',
      'RETRIES',
      'TRACEID',
    ]);
    expect(kubectl('explain', 'mrj.spec.map.parallelism')).to.contain('Most items running at once.');
  });
});
