// Re-runs on the local control plane (docs/rerun.md): a 500-item job with 37 items failing for good, then
// `kubectl mapreduce rerun` over those 37 with the agent "fixed" (the kwok exit-code knob), the earlier job
// deleted while the re-run runs, a merged reduce over all 500 results, and the two traces linked in Jaeger.
// Then every bad source: a refusal by the CRD, or Failed with a stable reason and an Event.
import path from 'node:path';
import { expect } from 'chai';
import { load } from 'js-yaml';
import { LABEL_PHASE } from '../../src/api/constants.js';
import type { JsonValue, MapReduceJob } from '../../src/api/types.js';
import { run as runCli } from '../../src/cli/main.js';
import { parseIndexRanges } from '../../src/controller/indexranges.js';
import { spanId } from '../../src/telemetry/ids.js';
import {
  cluster,
  kubeconfigPath,
  kubectl,
  REPO_ROOT,
  useTestNamespace,
  waitFor,
} from '../support/cluster.js';
import { Jaeger, tag } from '../support/jaeger.js';
import type { JaegerSpan } from '../support/jaeger.js';
import { createJob, deleteJob, getJob, jobPods, waitForEvent, waitForPhase } from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { startOperator, STARTED } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';

const ITEMS = 500;
/** 37 items that fail every attempt in the first job: 5, 18, 31, ..., 473. */
const FAILING = Array.from({ length: 37 }, (_, k) => 5 + 13 * k);

function items(): JsonValue[] {
  const failing = new Set(FAILING);
  return Array.from({ length: ITEMS }, (_, i): JsonValue =>
    failing.has(i) ? { n: i, sim: { exitCode: 3 } } : { n: i },
  );
}

function refs(span: JaegerSpan): string[] {
  return span.references.filter((r) => r.refType === 'FOLLOWS_FROM').map((r) => `${r.traceID}/${r.spanID}`);
}

describe('re-run of failed items', function () {
  const ns = useTestNamespace('rerun');
  let jaeger: Jaeger;
  let operator: OperatorProcess | undefined;

  before(async function () {
    this.timeout(300_000); // the first run builds Jaeger
    // This worktree's CRD, again: integration runs of other branches on the same cluster apply theirs.
    kubectl('apply', '--server-side', '--force-conflicts', '-f', path.join(REPO_ROOT, 'crds'));
    jaeger = await Jaeger.start();
  });

  after(async function () {
    await jaeger?.stop();
  });

  afterEach(async function () {
    await operator?.kill();
    operator = undefined;
  });

  const cli = (...args: string[]): Promise<string> =>
    runCli(
      [...args, '-n', ns.name, `--kubeconfig=${kubeconfigPath()}`, `--jaeger-url=${jaeger.queryUrl}`],
      {},
    );

  it('re-runs 37 of 500 items, merges all 500 results into its reduce, and links both traces', async function () {
    this.timeout(600_000);
    operator = await startOperator(ns.name, [], STARTED, {
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpGrpcEndpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    });
    await createJob(
      ns.name,
      makeJob('big')
        .items(items())
        .parallelism(100)
        .backoffLimitPerItem(1)
        .maxFailedItems(40)
        .reduce('first reduce')
        .obj(),
    );
    const big = await waitForPhase(ns.name, 'big', ['Succeeded', 'Failed'], 300_000);
    expect(big.status).to.deep.include({
      phase: 'Succeeded',
      totalItems: ITEMS,
      succeededItems: ITEMS - 37,
      failedItems: 37,
      failedIndexes: FAILING.join(','),
    });

    // The re-run as a GitOps user would commit it, with the agent fixed: the kwok knob stands in for the image.
    const yaml = await cli(
      'rerun',
      'big',
      '--name',
      'big-fix',
      '--image',
      'agent:fixed',
      '--dry-run=client',
      '-o',
      'yaml',
    );
    const rerun = load(yaml) as MapReduceJob;
    expect(rerun.spec.input).to.deep.equal({ fromJob: { name: 'big', mergeResults: true } });
    expect(rerun.spec.map.template.spec?.containers[0]?.image).to.equal('agent:fixed');
    rerun.spec.map.template.metadata!.annotations = {
      ...rerun.spec.map.template.metadata!.annotations,
      'sim.mapreduce.dev/exit-code': '0',
      'sim.mapreduce.dev/duration': '2s',
    };
    rerun.spec.map.parallelism = 10;
    rerun.spec.reduce!.template.metadata!.annotations = {
      ...rerun.spec.reduce!.template.metadata!.annotations,
      'sim.mapreduce.dev/duration': '3s',
      'sim.mapreduce.dev/message': 'merged reduce',
    };
    await createJob(ns.name, rerun);

    // Once the re-run has taken its items, the earlier job may go: its results stay for the merged reduce.
    const started = await waitFor('the re-run to take its items', async () => {
      const j = await getJob(ns.name, 'big-fix');
      return j.status?.fromJob ? j : undefined;
    });
    expect(started.status?.totalItems).to.equal(37);
    await deleteJob(ns.name, 'big');
    await waitFor(
      'the earlier job and its input snapshot to be gone',
      async () => {
        const left = await cluster().core.listNamespacedConfigMap({
          namespace: ns.name,
          labelSelector: 'mapreduce.dev/job-name=big,mapreduce.dev/store=items',
        });
        const jobs = (await cluster().custom.listNamespacedCustomObject({
          group: 'mapreduce.dev',
          version: 'v1alpha1',
          namespace: ns.name,
          plural: 'mapreducejobs',
        })) as { items: MapReduceJob[] };
        return left.items.length === 0 && !jobs.items.some((j) => j.metadata.name === 'big')
          ? true
          : undefined;
      },
      120_000,
    );

    const reduce = await waitFor(
      'the re-run’s reduce pod',
      async () =>
        (await jobPods(ns.name, 'big-fix')).find((p) => p.metadata?.labels?.[LABEL_PHASE] === 'reduce'),
      120_000,
    );
    const env = Object.fromEntries((reduce.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    expect([
      env.MAPREDUCE_TOTAL_ITEMS,
      env.MAPREDUCE_SUCCEEDED_ITEMS,
      env.MAPREDUCE_FAILED_ITEMS,
    ]).to.deep.equal(['500', '500', '0']);
    const sources = reduce.spec?.volumes
      ?.find((v) => v.name === 'mapreduce-results')
      ?.projected?.sources?.map((s) => s.configMap!.name!);

    const done = await waitForPhase(ns.name, 'big-fix', ['Succeeded', 'Failed'], 120_000);
    const status = done.status!;
    expect(status).to.deep.include({
      phase: 'Succeeded',
      totalItems: 37,
      succeededItems: 37,
      failedItems: 0,
      completedIndexes: FAILING.join(','),
      result: 'merged reduce',
    });
    expect(status.fromJob).to.deep.include({
      name: 'big',
      uid: big.metadata.uid,
      indexSpace: 500,
      failedAttempt: 1,
      traceID: big.status!.traceID,
      spanID: big.status!.trace!.spanID,
      sampled: true,
    });
    expect(status.fromJob?.results).to.deep.equal([
      {
        job: 'big',
        resultPieces: big.status!.resultPieces,
        indexes: big.status!.completedIndexes,
        count: 463,
      },
    ]);

    // What the reduce read: every one of the 500 results, each from the item of its index.
    const merged: Record<string, string> = {};
    for (const name of sources ?? []) {
      const cm = await cluster().core.readNamespacedConfigMap({ namespace: ns.name, name });
      for (const [k, v] of Object.entries(cm.data ?? {})) {
        expect(merged, `index ${k} twice`).to.not.have.property(k);
        merged[k] = v;
      }
    }
    expect(
      Object.keys(merged)
        .map(Number)
        .sort((a, b) => a - b),
    ).to.deep.equal(Array.from({ length: ITEMS }, (_, i) => i));
    for (const [k, v] of Object.entries(merged))
      expect((JSON.parse(v) as { n: number }).n, k).to.equal(Number(k));
    expect([...parseIndexRanges(status.completedIndexes!)]).to.deep.equal(FAILING);

    // Both traces in Jaeger, the re-run's linked to the earlier one.
    const earlierTrace = await jaeger.waitForTrace(big.status!.traceID!, 3 + ITEMS + 37 + 1, 120_000);
    const trace = await jaeger.waitForTrace(status.traceID!, 3 + 37 + 1, 120_000);
    expect(trace.spans).to.have.length(41);
    const earlierIds = new Set(earlierTrace.spans.map((s) => s.spanID));
    const [jobSpan] = trace.spans.filter((s) => s.operationName === 'mapreduce.job.execute');
    expect(refs(jobSpan!)).to.deep.equal([`${big.status!.traceID}/${big.status!.trace!.spanID}`]);
    const agents = trace.spans.filter(
      (s) => s.operationName === 'mapreduce.agent.execute' && tag(s, 'mapreduce.phase.type') === 'map',
    );
    expect(agents.map((s) => tag(s, 'mapreduce.item.index') as number).sort((a, b) => a - b)).to.deep.equal(
      FAILING,
    );
    for (const s of agents) {
      const index = tag(s, 'mapreduce.item.index') as number;
      const replaced = spanId(big.status!.traceID!, big.metadata.uid!, {
        kind: 'agent',
        phase: 'map',
        index,
        attempt: 1,
      });
      expect(refs(s), `item ${index}`).to.deep.equal([`${big.status!.traceID}/${replaced}`]);
      expect(earlierIds.has(replaced), `item ${index}'s failed attempt is in the earlier trace`).to.equal(
        true,
      );
      const failedThere = earlierTrace.spans.find((e) => e.spanID === replaced)!;
      expect([tag(failedThere, 'mapreduce.item.index'), tag(failedThere, 'mapreduce.attempt')]).to.deep.equal(
        [index, 1],
      );
      expect(tag(failedThere, 'error')).to.equal(true);
    }

    const waterfall = await cli('trace', 'big-fix');
    expect(waterfall.split('\n')[0]).to.equal(
      `trace ${status.traceID} (${jaeger.queryUrl}/trace/${status.traceID})`,
    );
    expect(waterfall).to.include(
      `re-run of big: earlier trace ${big.status!.traceID} (${jaeger.queryUrl}/trace/${big.status!.traceID})`,
    );
    expect(waterfall).to.include('41 spans, 0 failed');
    expect(waterfall).to.include(`${3 + ITEMS + 37 + 1} spans, 74 failed`);

    // The earlier results go with the last job that reads them.
    await deleteJob(ns.name, 'big-fix');
    await waitFor(
      'the earlier result pieces to be collected with the re-run',
      async () => {
        const left = await cluster().core.listNamespacedConfigMap({
          namespace: ns.name,
          labelSelector: 'mapreduce.dev/job-name=big',
        });
        return left.items.length === 0 ? true : undefined;
      },
      120_000,
    );
  });

  it('refuses bad sources: the CRD refuses what it can, the rest fail with a stable reason and an Event', async function () {
    this.timeout(300_000);
    operator = await startOperator(ns.name);
    await createJob(ns.name, makeJob('clean').items(['a', 'b']).obj());
    await createJob(
      ns.name,
      makeJob('busy').items(['a']).mapAnnotation('sim.mapreduce.dev/never-finish', 'true').obj(),
    );
    await waitForPhase(ns.name, 'clean', ['Succeeded']);
    await waitForPhase(ns.name, 'busy', ['Running']);

    let refused: unknown;
    try {
      await createJob(ns.name, makeJob('self').fromJob('self').obj());
    } catch (err) {
      refused = err;
    }
    expect(String((refused as { body?: unknown }).body)).to.include(
      'spec.input.fromJob.name names this job itself; a re-run names an earlier job',
    );

    await createJob(ns.name, makeJob('of-missing').fromJob('nothing-here').obj());
    await createJob(ns.name, makeJob('of-busy').fromJob('busy').obj());
    await createJob(ns.name, makeJob('of-clean').fromJob('clean').obj());
    await createJob(ns.name, makeJob('of-other-ns').fromJob('clean', { namespace: 'default' }).obj());
    const expected: Record<string, [string, string]> = {
      'of-missing': [
        'SourceJobNotFound',
        `spec.input.fromJob: MapReduceJob ${ns.name}/nothing-here not found`,
      ],
      'of-busy': [
        'SourceJobNotFinished',
        `spec.input.fromJob: MapReduceJob ${ns.name}/busy is Running; a re-run takes the failed items of a finished job`,
      ],
      'of-clean': [
        'SourceJobHasNoFailedItems',
        `spec.input.fromJob: MapReduceJob ${ns.name}/clean has no failed items`,
      ],
      'of-other-ns': [
        'SourceJobInOtherNamespace',
        `spec.input.fromJob.namespace: "default" is not this job's namespace "${ns.name}"; a re-run takes the failed items of a job in its own namespace`,
      ],
    };
    const seen: Record<string, [string, string]> = {};
    for (const name of Object.keys(expected)) {
      const job = await waitForPhase(ns.name, name, ['Failed', 'Succeeded']);
      const c = job.status?.conditions?.find((x) => x.type === 'Failed');
      seen[name] = [c?.reason ?? '', c?.message ?? ''];
      const events = await waitForEvent(ns.name, name, c?.reason ?? 'none');
      expect(events.find((e) => e.reason === c?.reason)?.type).to.equal('Warning');
      expect(await jobPods(ns.name, name)).to.deep.equal([]);
    }
    expect(seen).to.deep.equal(expected);

    // The CLI refuses the same before writing anything.
    let cliError: unknown;
    try {
      await cli('rerun', 'busy');
    } catch (err) {
      cliError = err;
    }
    expect((cliError as Error).message).to.equal(
      `rerun: spec.input.fromJob: MapReduceJob ${ns.name}/busy is Running; a re-run takes the failed items of a finished job`,
    );

    // Its never-ending pod goes while the operator runs, so the namespace is not held by its finalizer.
    await deleteJob(ns.name, 'busy');
    await waitFor('busy’s pod to be gone', async () =>
      (await jobPods(ns.name, 'busy')).length === 0 ? true : undefined,
    );
  });
});
