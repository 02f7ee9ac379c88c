// Each job is one complete trace, read back from a real Jaeger: every span once, parented right, through
// retries, failures and operator crashes; the pods' own spans nest under their agent spans.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { expect } from 'chai';
import type { JsonValue, MapReduceJob } from '../../src/api/types.js';
import { cluster, kubeconfigPath, REPO_ROOT, useTestNamespace, waitFor } from '../support/cluster.js';
import { run as runCli } from '../../src/cli/main.js';
import { Jaeger, parentOf, tag } from '../support/jaeger.js';
import type { JaegerSpan, JaegerTrace } from '../support/jaeger.js';
import { createJob, getJob, jobPods, waitForPhase } from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { startOperator, STARTED } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';

const run = promisify(execFile);

/** 50 items: five fail their first attempt, two fail every attempt (two attempts each). */
function fiftyItems(): JsonValue[] {
  return Array.from({ length: 50 }, (_, i): JsonValue => {
    if (i === 7 || i === 32) return { i, sim: { exitCode: 2 } };
    if (i % 10 === 3) return { i, sim: { failAttempts: 1 } };
    return { i };
  });
}

function fiftyItemJob(name: string): MapReduceJob {
  return makeJob(name)
    .items(fiftyItems())
    .parallelism(8)
    .backoffLimitPerItem(1)
    .maxFailedItems(2)
    .reduce('total')
    .telemetry({ attributes: { team: 'search' } })
    .obj();
}

function byName(trace: JaegerTrace, name: string): JaegerSpan[] {
  return trace.spans.filter((s) => s.operationName === name);
}

/** Checks the shape of a finished job's trace; returns its agent spans. */
function expectCompleteTrace(trace: JaegerTrace, job: MapReduceJob): JaegerSpan[] {
  if (process.env.TRACE_DUMP) writeFileSync(process.env.TRACE_DUMP, JSON.stringify(trace, null, 1));
  const status = job.status!;
  const mapAttempts = status.totalItems! + status.retries!;
  const agents = byName(trace, 'mapreduce.agent.execute');
  const [jobSpan] = byName(trace, 'mapreduce.job.execute');
  const [mapSpan] = byName(trace, 'mapreduce.phase.map');
  const [reduceSpan] = byName(trace, 'mapreduce.phase.reduce');
  expect(
    [jobSpan, mapSpan, reduceSpan].map((s) => s?.operationName),
    'one job, one map and one reduce span',
  ).to.deep.equal(['mapreduce.job.execute', 'mapreduce.phase.map', 'mapreduce.phase.reduce']);
  expect(trace.spans).to.have.length(3 + mapAttempts + 1);
  expect(new Set(trace.spans.map((s) => s.spanID)).size, 'no span twice').to.equal(trace.spans.length);
  expect(parentOf(jobSpan!)).to.equal(undefined);
  expect(parentOf(mapSpan!)).to.equal(jobSpan!.spanID);
  expect(parentOf(reduceSpan!)).to.equal(jobSpan!.spanID);
  const mapAgents = agents.filter((s) => tag(s, 'mapreduce.phase.type') === 'map');
  const attempts = mapAgents.map(
    (s) => `${tag(s, 'mapreduce.item.index') as number}/${tag(s, 'mapreduce.attempt') as number}`,
  );
  expect(new Set(attempts).size, 'one span per item attempt').to.equal(mapAttempts);
  for (const s of mapAgents) expect(parentOf(s), s.operationName).to.equal(mapSpan!.spanID);
  const reduceAgents = agents.filter((s) => tag(s, 'mapreduce.phase.type') === 'reduce');
  expect(reduceAgents.map(parentOf)).to.deep.equal([reduceSpan!.spanID]);
  for (const s of trace.spans) expect(tag(s, 'team'), s.operationName).to.equal('search');
  return agents;
}

describe('tracing', function () {
  const ns = useTestNamespace('trace');
  let jaeger: Jaeger;
  const operators: OperatorProcess[] = [];

  before(async function () {
    this.timeout(300_000); // the first run builds Jaeger
    jaeger = await Jaeger.start();
  });

  after(async function () {
    await jaeger?.stop();
  });

  afterEach(async function () {
    await Promise.all(operators.splice(0).map((o) => o.kill()));
  });

  function otelEnv(): Record<string, string> {
    return {
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpGrpcEndpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      K8S_CLUSTER_NAME: 'local-test',
    };
  }

  /** Waits for a fiftyItemJob to end as it must, then for its whole trace in Jaeger. */
  async function finishedFiftyItemTrace(name: string): Promise<{ job: MapReduceJob; trace: JaegerTrace }> {
    const job = await waitForPhase(ns.name, name, ['Succeeded', 'Failed'], 120_000);
    expect(job.status).to.deep.include({
      phase: 'Succeeded',
      succeededItems: 48,
      failedItems: 2,
      retries: 7,
    });
    // 1 job + 1 map + 1 reduce span, one per map attempt (50 items + 7 retries), one reduce attempt.
    const trace = await jaeger.waitForTrace(job.status!.traceID!, 3 + 50 + 7 + 1);
    return { job, trace };
  }

  async function start(): Promise<OperatorProcess> {
    const op = await startOperator(ns.name, [], STARTED, otelEnv());
    operators.push(op);
    return op;
  }

  it('delivers spans carrying 64 user attributes of 1 KiB each (the CRD’s most) to Jaeger’s 4 MiB gRPC receiver', async function () {
    await start();
    const attributes: Record<string, string> = {};
    for (let i = 0; i < 64; i++) attributes[`attr${i}`] = 'x'.repeat(1024);
    // 100 agent spans of ~66 KB: 6.6 MB of spans, more than one gRPC message may carry.
    await createJob(
      ns.name,
      makeJob('wide')
        .items(Array.from({ length: 100 }, (_, i) => i))
        .parallelism(100)
        .telemetry({ attributes })
        .obj(),
    );
    const job = await waitForPhase(ns.name, 'wide', ['Succeeded', 'Failed'], 90_000);
    expect(job.status).to.deep.include({ phase: 'Succeeded', succeededItems: 100 });
    const trace = await jaeger.waitForTrace(job.status!.traceID!, 1 + 1 + 100);
    expect(trace.spans).to.have.length(102);
    expect(new Set(trace.spans.map((s) => tag(s, 'attr63')))).to.deep.equal(new Set(['x'.repeat(1024)]));
  });

  it('makes a 50-item job with retries and failures one complete trace', async function () {
    const op = await start();
    await createJob(ns.name, fiftyItemJob('fifty'));
    const { job, trace } = await finishedFiftyItemTrace('fifty');
    const agents = expectCompleteTrace(trace, job);

    const failed = agents.filter((s) => tag(s, 'error') === true);
    expect(
      failed
        .map((s) => `${tag(s, 'mapreduce.item.index') as number}/${tag(s, 'mapreduce.attempt') as number}`)
        .sort(),
    ).to.deep.equal(['13/0', '23/0', '32/0', '32/1', '33/0', '3/0', '43/0', '7/0', '7/1'].sort());
    for (const s of failed) {
      const index = tag(s, 'mapreduce.item.index');
      expect(tag(s, 'otel.status_description')).to.equal(
        index === 7 || index === 32 ? 'exit code 2' : 'exit code 1',
      );
      expect(s.logs.some((l) => l.fields.some((f) => f.key === 'event' && f.value === 'exception'))).to.equal(
        true,
      );
    }
    const retry = agents.find(
      (s) => tag(s, 'mapreduce.item.index') === 3 && tag(s, 'mapreduce.attempt') === 1,
    )!;
    const first = agents.find(
      (s) => tag(s, 'mapreduce.item.index') === 3 && tag(s, 'mapreduce.attempt') === 0,
    )!;
    expect(retry.references.filter((r) => r.refType === 'FOLLOWS_FROM').map((r) => r.spanID)).to.deep.equal([
      first.spanID,
    ]);

    const jobLines = op.logs.filter((l) => l.job === `${ns.name}/fifty`);
    expect(jobLines.length).to.be.greaterThan(2);
    for (const line of jobLines) {
      expect(line.trace_id, String(line.msg)).to.equal(job.status!.traceID);
      expect(line.span_id, String(line.msg)).to.equal(byName(trace, 'mapreduce.job.execute')[0]!.spanID);
    }

    // The terminal view shows the same trace, and the dead-letter list points into it.
    const cli = (command: string): Promise<string> =>
      runCli(
        [
          command,
          'fifty',
          '-n',
          ns.name,
          `--kubeconfig=${kubeconfigPath()}`,
          `--jaeger-url=${jaeger.queryUrl}`,
        ],
        {},
      );
    const waterfall = await cli('trace');
    expect(waterfall.split('\n')[0]).to.equal(
      `trace ${job.status!.traceID} (${jaeger.queryUrl}/trace/${job.status!.traceID})`,
    );
    expect(waterfall).to.include('61 spans, 9 failed');
    const spanIds = new Set(trace.spans.map((s) => s.spanID));
    const deadLetters = (await cli('failed')).trim().split('\n').slice(1);
    expect(deadLetters.map((l) => Number(l.split(/\s{2,}/)[0])).sort((a, b) => a - b)).to.deep.equal([7, 32]);
    for (const line of deadLetters)
      expect(spanIds.has(line.split(/\s{2,}/)[5]!.split('/')[1]!), line).to.equal(true);

    const kubeSystem = await cluster().core.readNamespace({ name: 'kube-system' });
    const process = trace.processes[trace.spans[0]!.processID]!;
    const resource = Object.fromEntries(process.tags.map((t) => [t.key, t.value]));
    expect(process.serviceName).to.equal('mapreduce-operator');
    expect(resource).to.deep.include({
      'k8s.cluster.uid': kubeSystem.metadata!.uid,
      'k8s.cluster.name': 'local-test',
      'service.version': '0.1.0',
    });
  });

  it('keeps the trace complete, with no span twice, across two SIGKILLs mid-job', async function () {
    let op = await start();
    await createJob(ns.name, fiftyItemJob('crashy'));
    for (let round = 0; round < 2; round++) {
      const before = (await getJob(ns.name, 'crashy')).status?.succeededItems ?? 0;
      await waitFor('progress before the crash', async () => {
        const done = (await getJob(ns.name, 'crashy')).status?.succeededItems ?? 0;
        return done >= before + 8;
      });
      await op.kill();
      op = await start();
    }
    const { job, trace } = await finishedFiftyItemTrace('crashy');
    expectCompleteTrace(trace, job);
  });

  it('nests the spans an agent emits under its agent span', async function () {
    await start();
    await createJob(
      ns.name,
      makeJob('nested')
        .items(['the quick brown fox'])
        .mapAnnotation('sim.mapreduce.dev/duration', '4s')
        .obj(),
    );
    const pod = await waitFor('the agent pod', async () =>
      (await jobPods(ns.name, 'nested')).find((p) => p.status?.phase === 'Running'),
    );
    // kwok runs no containers: run the example agent here with the env the operator gave the pod.
    const env: Record<string, string> = {};
    for (const e of pod.spec!.containers[0]!.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
    env.OTEL_RESOURCE_ATTRIBUTES = env
      .OTEL_RESOURCE_ATTRIBUTES!.replace('$(MAPREDUCE_POD_NAME)', pod.metadata!.name!)
      .replace('$(MAPREDUCE_POD_UID)', pod.metadata!.uid!)
      .replace('$(MAPREDUCE_NODE_NAME)', pod.spec!.nodeName!);
    const dir = mkdtempSync(path.join(tmpdir(), 'agent-'));
    await run(process.execPath, [path.join(REPO_ROOT, 'examples', 'agent', 'traced-agent.mjs')], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        ...env,
        MAPREDUCE_TERMINATION_LOG: path.join(dir, 'result'),
        OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpGrpcEndpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
      },
    });
    expect(JSON.parse(readFileSync(path.join(dir, 'result'), 'utf8'))).to.deep.equal({
      the: 1,
      quick: 1,
      brown: 1,
      fox: 1,
    });
    const job = await waitForPhase(ns.name, 'nested', ['Succeeded', 'Failed']);
    const trace = await jaeger.waitForTrace(job.status!.traceID!, 4);
    const [agent] = byName(trace, 'mapreduce.agent.execute');
    const [count] = byName(trace, 'wordcount.count');
    const annotation = pod.metadata!.annotations!['mapreduce.dev/traceparent']!;
    expect(annotation.split('-')[2]).to.equal(agent!.spanID);
    expect(parentOf(count!)).to.equal(agent!.spanID);
    const agentProcess = trace.processes[count!.processID]!;
    expect(agentProcess.serviceName).to.equal('wordcount-agent');
    expect(Object.fromEntries(agentProcess.tags.map((t) => [t.key, t.value]))).to.deep.include({
      'k8s.pod.name': pod.metadata!.name,
      'k8s.pod.uid': pod.metadata!.uid,
      'k8s.namespace.name': ns.name,
    });
  });

  it('exports nothing for an unsampled job', async function () {
    await start();
    await createJob(ns.name, makeJob('unsampled').items(['a', 'b']).telemetry({ sampleRatio: 0 }).obj());
    await createJob(ns.name, makeJob('sampled').items(['a', 'b']).obj());
    const unsampled = await waitForPhase(ns.name, 'unsampled', ['Succeeded']);
    const sampled = await waitForPhase(ns.name, 'sampled', ['Succeeded']);
    await jaeger.waitForTrace(sampled.status!.traceID!, 4); // the operator exported what it had to
    expect(unsampled.status?.trace?.sampled).to.equal(false);
    expect(await jaeger.trace(unsampled.status!.traceID!)).to.equal(undefined);
  });
});
