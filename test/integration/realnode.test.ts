// What only a real kubelet does, on the cluster's real node (hack/realnode.sh): containers run, an agent's own
// spans join the job's trace, statuses are sorted by name, termination messages are cut at 4 KiB, deadlines and
// grace periods are enforced, and a failed container's log stands in for its termination message.
// The jobs are created together, before the tests, and run side by side on the node; each test checks one.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { V1Container, V1PodTemplateSpec } from '@kubernetes/client-node';
import type { JsonValue, MapReduceJob } from '../../src/api/types.js';
import { createTestNamespace, deleteTestNamespace, waitFor } from '../support/cluster.js';
import { Jaeger, parentOf, tag } from '../support/jaeger.js';
import type { JaegerSpan, JaegerTrace } from '../support/jaeger.js';
import { createJob, deleteJob, jobEvents, jobPods, jobResults, waitForPhase } from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { startOperator, STARTED } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';
import { realNodeOrSkip, realNodeTemplate } from '../support/realnode.js';
import type { RealNode } from '../support/realnode.js';

/** Containers start in seconds on an idle machine; a loaded 2-core one running six jobs at once needs more. */
const REAL_JOB_TIMEOUT_MS = 240_000;

function byName(trace: JaegerTrace, name: string): JaegerSpan[] {
  return trace.spans.filter((s) => s.operationName === name);
}

function realJob(name: string, items: JsonValue[], map: V1PodTemplateSpec): MapReduceJob {
  const job = makeJob(name).items(items).obj();
  job.spec.map.template = map;
  return job;
}

/** An item that fails once, for good: no retry, and the job still succeeds. */
function failingOnce(job: MapReduceJob): MapReduceJob {
  job.spec.map.backoffLimitPerItem = 0;
  job.spec.failurePolicy = { maxFailedItems: 1 };
  return job;
}

/** The jobs of the tests below, for this node and this Jaeger; `dir` is shared with the SIGTERM test's pod. */
function jobs(node: RealNode, jaeger: Jaeger, dir: string): MapReduceJob[] {
  const sh = (script: string, name = 'main'): V1Container => ({
    name,
    image: node.images.busybox,
    command: ['sh', '-c', script],
  });
  // The agent exports to the test's Jaeger on 127.0.0.1: the host's network, not the pods' bridge.
  const traced = realJob(
    'traced',
    ['the quick brown fox', 'the lazy dog the end'],
    realNodeTemplate(
      [
        {
          name: 'agent',
          image: node.images.node,
          args: ['examples/agent/traced-agent.mjs'],
          env: [
            { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: jaeger.otlpGrpcEndpoint },
            { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', value: 'grpc' },
            { name: 'OTEL_METRICS_EXPORTER', value: 'none' },
            { name: 'OTEL_LOGS_EXPORTER', value: 'none' },
          ],
        },
      ],
      { hostNetwork: true },
    ),
  );
  traced.spec.telemetry = { baggage: { team: 'search' } };
  const deadline = failingOnce(
    realJob(
      'deadline',
      ['x'],
      // sh as PID 1 ignores SIGTERM: the kubelet's kill would wait out the default 30 s before its SIGKILL.
      realNodeTemplate([sh('sleep 300')], { terminationGracePeriodSeconds: 1 }),
    ),
  );
  deadline.spec.map.activeDeadlineSeconds = 3;
  const term =
    'trap "echo TERM >/out/$HOSTNAME; exit 0" TERM; echo started >/out/$HOSTNAME; sleep 300 & wait';
  return [
    realJob(
      'sorted',
      ['x'],
      realNodeTemplate([
        sh('printf main-result >/dev/termination-log', 'main'),
        sh('printf sidecar-result >/dev/termination-log', 'aaa-sidecar'),
      ]),
    ),
    traced,
    // "BEGIN" then 5000 x's: the kubelet keeps the tail, so BEGIN is lost.
    realJob(
      'long',
      ['x'],
      realNodeTemplate([
        sh("printf BEGIN >/dev/termination-log; head -c 5000 /dev/zero | tr '\\0' x >>/dev/termination-log"),
      ]),
    ),
    deadline,
    realJob(
      'cancelled',
      ['x'],
      realNodeTemplate([{ ...sh(term), volumeMounts: [{ name: 'out', mountPath: '/out' }] }], {
        terminationGracePeriodSeconds: 30,
        volumes: [{ name: 'out', hostPath: { path: dir, type: 'Directory' } }],
      }),
    ),
    failingOnce(realJob('fallback', ['x'], realNodeTemplate([sh('printf "boom: no such file"; exit 3')]))),
  ];
}

describe('real node', function () {
  let node: RealNode;
  let jaeger: Jaeger | undefined;
  let operator: OperatorProcess | undefined;
  let ns = '';
  let dir = '';

  before(async function () {
    this.timeout(300_000); // the first run builds Jaeger
    node = await realNodeOrSkip(this);
    jaeger = await Jaeger.start();
    ns = await createTestNamespace('real');
    dir = mkdtempSync(path.join(tmpdir(), 'realnode-term-'));
    operator = await startOperator(ns, [], STARTED, {
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpGrpcEndpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    });
    for (const job of jobs(node, jaeger, dir)) await createJob(ns, job);
  });

  after(async function () {
    await operator?.kill();
    await jaeger?.stop();
    if (ns) await deleteTestNamespace(ns);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('takes the main container’s result when a sidecar’s name sorts first', async function () {
    this.timeout(REAL_JOB_TIMEOUT_MS);
    const pod = await waitFor(
      'the pod’s container statuses',
      async () => {
        const [p] = await jobPods(ns, 'sorted');
        return p?.status?.containerStatuses?.length === 2 ? p : undefined;
      },
      REAL_JOB_TIMEOUT_MS,
    );
    expect(pod.status!.containerStatuses!.map((s) => s.name)).to.deep.equal(['aaa-sidecar', 'main']);
    const done = await waitForPhase(ns, 'sorted', ['Succeeded', 'Failed'], REAL_JOB_TIMEOUT_MS);
    expect(done.status?.phase).to.equal('Succeeded');
    expect(await jobResults(ns, 'sorted')).to.deep.equal({ '0': 'main-result' });
  });

  it('runs a traced agent whose own span is a child of its agent span, with the job’s baggage', async function () {
    this.timeout(REAL_JOB_TIMEOUT_MS + 60_000);
    const done = await waitForPhase(ns, 'traced', ['Succeeded', 'Failed'], REAL_JOB_TIMEOUT_MS);
    expect(done.status).to.deep.include({ phase: 'Succeeded', succeededItems: 2 });
    expect(await jobResults(ns, 'traced')).to.deep.equal({
      '0': JSON.stringify({ the: 1, quick: 1, brown: 1, fox: 1 }),
      '1': JSON.stringify({ the: 2, lazy: 1, dog: 1, end: 1 }),
    });
    // job + map + 2 agent spans, and the agents' own 2.
    const trace = await jaeger!.waitForTrace(done.status!.traceID!, 3 + 2);
    const agents = byName(trace, 'mapreduce.agent.execute');
    const counts = byName(trace, 'wordcount.count');
    expect(counts).to.have.length(2);
    for (const count of counts) {
      const index = tag(count, 'baggage.mapreduce.item.index');
      const agent = agents.find((a) => tag(a, 'mapreduce.item.index') === Number(index));
      expect(agent, `the agent span of item ${String(index)}`).to.not.equal(undefined);
      expect(parentOf(count)).to.equal(agent!.spanID);
      expect(tag(count, 'baggage.team')).to.equal('search');
      expect(tag(count, 'baggage.mapreduce.job.name')).to.equal('traced');
      expect(tag(count, 'baggage.k8s.namespace.name')).to.equal(ns);
      // The kubelet expanded $(MAPREDUCE_POD_NAME) and friends in OTEL_RESOURCE_ATTRIBUTES.
      const tags = Object.fromEntries(trace.processes[count.processID]!.tags.map((t) => [t.key, t.value]));
      expect(tags['k8s.node.name']).to.equal(node.name);
      expect(tags['k8s.pod.name']).to.equal(`traced-${String(index)}-0`);
    }
  });

  it('keeps the last 4096 bytes of a longer result and flags it as truncated', async function () {
    this.timeout(REAL_JOB_TIMEOUT_MS);
    const done = await waitForPhase(ns, 'long', ['Succeeded', 'Failed'], REAL_JOB_TIMEOUT_MS);
    expect(done.status).to.deep.include({ phase: 'Succeeded', truncatedResultIndexes: '0' });
    expect(await jobResults(ns, 'long')).to.deep.equal({ '0': 'x'.repeat(4096) });
    const events = await jobEvents(ns, 'long');
    expect(events.filter((e) => e.reason === 'ResultTruncated')).to.have.length(1);
  });

  it('ends an attempt at its activeDeadlineSeconds: reason DeadlineExceeded, its span marked', async function () {
    this.timeout(REAL_JOB_TIMEOUT_MS + 60_000);
    const done = await waitForPhase(ns, 'deadline', ['Succeeded', 'Failed'], REAL_JOB_TIMEOUT_MS);
    expect(done.status?.failedItems).to.equal(1);
    expect(done.status?.failedItemDetails?.map((d) => d.reason)).to.deep.equal(['DeadlineExceeded']);
    const trace = await jaeger!.waitForTrace(done.status!.traceID!, 3);
    const [agent] = byName(trace, 'mapreduce.agent.execute');
    expect(tag(agent!, 'error')).to.equal(true);
    expect(tag(agent!, 'mapreduce.failure.reason')).to.equal('DeadlineExceeded');
  });

  it('sends SIGTERM to an attempt cancelled by the job’s deletion, which ends within its grace period', async function () {
    this.timeout(REAL_JOB_TIMEOUT_MS);
    const started = await waitFor(
      'the container to start',
      () =>
        Promise.resolve(
          readdirSync(dir).find((f) => readFileSync(path.join(dir, f), 'utf8') === 'started\n'),
        ),
      REAL_JOB_TIMEOUT_MS,
    );
    // Deleting the job cancels its running attempt: the pod is deleted with its grace period.
    await deleteJob(ns, 'cancelled');
    await waitFor('the pod to go', async () => (await jobPods(ns, 'cancelled')).length === 0, 60_000);
    // The trap ran (exit 0 within the grace period); a SIGKILL would have left "started".
    expect(readFileSync(path.join(dir, started), 'utf8')).to.equal('TERM\n');
  });

  it('takes a failed container’s log as its message when it wrote none (FallbackToLogsOnError)', async function () {
    this.timeout(REAL_JOB_TIMEOUT_MS);
    const done = await waitForPhase(ns, 'fallback', ['Succeeded', 'Failed'], REAL_JOB_TIMEOUT_MS);
    expect(done.status?.failedItemDetails).to.deep.equal([
      { index: 0, id: '0', attempts: 1, reason: 'exit code 3', exitCode: 3, message: 'boom: no such file' },
    ]);
  });
});
