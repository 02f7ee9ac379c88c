// Span delivery never holds a job back, and still loses nothing: read from what a real OTLP/HTTP receiver
// got, request by request (not through a backend's deduplicating query). The collector goes down mid-job,
// refuses the operator for good, refuses large requests; a job is deleted mid-run; and a second operator
// process, with a clock an hour ahead, re-delivers what a killed one could not.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { FINALIZER_TELEMETRY, FINALIZER_TRACKING } from '../../src/api/constants.js';
import { isNotFound } from '../../src/apierrors.js';
import type { JsonValue, MapReduceJob } from '../../src/api/types.js';
import { REPO_ROOT, useTestNamespace, waitFor } from '../support/cluster.js';
import {
  createJob,
  deleteJob,
  getJob,
  jobEvents,
  jobPods,
  waitForEvent,
  waitForPhase,
} from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { startOperator, STARTED } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';
import { OtlpReceiver } from '../support/otlpreceiver.js';
import type { OtlpAttribute, ReceivedSpan } from '../support/otlpreceiver.js';
import { freePort } from '../support/ports.js';

const run = promisify(execFile);

function items(n: number, extra: Record<string, JsonValue> = {}): JsonValue[] {
  return Array.from({ length: n }, (_, i): JsonValue => ({ i, ...extra }));
}

function attr(attributes: OtlpAttribute[] | undefined, key: string): unknown {
  const a = attributes?.find((x) => x.key === key);
  return a ? Object.values(a.value)[0] : undefined;
}

function named(spans: ReceivedSpan[], name: string): ReceivedSpan[] {
  return spans.filter((s) => s.span.name === name);
}

function tracked(pods: V1Pod[]): string[] {
  return pods
    .filter((p) => p.metadata?.finalizers?.includes(FINALIZER_TRACKING))
    .map((p) => p.metadata!.name!);
}

/** The job's spans as received, one entry per copy, of this trace only. */
function traceSpans(receiver: OtlpReceiver, traceId: string): ReceivedSpan[] {
  return receiver.spans().filter((s) => s.span.traceId === traceId);
}

describe('span delivery', function () {
  const ns = useTestNamespace('deliver');
  let receiver: OtlpReceiver;
  const operators: OperatorProcess[] = [];

  beforeEach(async function () {
    receiver = await OtlpReceiver.start();
  });

  afterEach(async function () {
    await Promise.all(operators.splice(0).map((o) => o.kill()));
    await receiver.stop();
  });

  async function start(args: string[] = [], env: Record<string, string> = {}): Promise<OperatorProcess> {
    const op = await startOperator(ns.name, args, STARTED, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_METRICS_EXPORTER: 'prometheus', // /metrics when a test gives a port; no OTLP metric push to the receiver
      ...env,
    });
    operators.push(op);
    return op;
  }

  /** Every span of the job in the receiver, and nothing more of its pods and finalizers held. */
  async function waitForDelivered(name: string, spans: number): Promise<MapReduceJob> {
    const job = await waitFor(
      `${name}'s spans marked delivered and its finalizers gone`,
      async () => {
        const j = await getJob(ns.name, name);
        const done =
          j.status?.trace?.delivered?.includes('end') &&
          !j.metadata.finalizers?.includes(FINALIZER_TELEMETRY) &&
          tracked(await jobPods(ns.name, name)).length === 0;
        return done ? j : undefined;
      },
      120_000,
    );
    expect(new Set(traceSpans(receiver, job.status!.traceID!).map((s) => s.span.spanId)).size).to.equal(
      spans,
    );
    return job;
  }

  it('runs a 300-item job to its end while the collector is down, then delivers every span exactly once', async function () {
    this.timeout(240_000);
    await start();
    await createJob(ns.name, makeJob('outage').items(items(300)).parallelism(30).obj());
    await waitFor('the first spans', () => Promise.resolve(receiver.received > 0 ? true : undefined), 60_000);
    await receiver.down();
    const job = await waitForPhase(ns.name, 'outage', ['Succeeded', 'Failed'], 180_000);
    // The job ended with the collector still down: nothing waited for it. Pods whose spans are not
    // delivered yet keep their tracking finalizer (they were deleted, and stay readable), and so does the job.
    expect(job.status).to.deep.include({ phase: 'Succeeded', succeededItems: 300, failedItems: 0 });
    expect(job.metadata.finalizers).to.include(FINALIZER_TELEMETRY);
    const held = tracked(await jobPods(ns.name, 'outage'));
    expect(held.length, 'pods held for their spans').to.be.greaterThan(0);
    expect(job.status?.trace?.delivered ?? []).to.not.include('end');

    await receiver.up();
    const delivered = await waitForDelivered('outage', 302);
    const spans = traceSpans(receiver, delivered.status!.traceID!);
    expect(receiver.duplicates(), 'no span received twice').to.deep.equal([]);
    expect(named(spans, 'mapreduce.agent.execute')).to.have.length(300);
    expect(named(spans, 'mapreduce.phase.map')).to.have.length(1);
    expect(named(spans, 'mapreduce.job.execute')).to.have.length(1);
    expect(delivered.status?.trace?.spansDropped).to.equal(undefined);
  });

  it('drops spans a receiver refuses as Unauthenticated, counts them, and the job succeeds', async function () {
    receiver.respondWith({ kind: 'status', status: 401 });
    const port = await freePort();
    await start([`--metrics-port=${port}`]);
    await createJob(ns.name, makeJob('unauth').items(items(20)).parallelism(10).obj());
    const job = await waitForPhase(ns.name, 'unauth', ['Succeeded', 'Failed'], 120_000);
    expect(job.status?.phase).to.equal('Succeeded');
    await waitForEvent(ns.name, 'unauth', 'SpansDropped');
    // 20 agent spans, the map phase and the job span: all refused, all counted, nothing held.
    const settled = await waitFor(
      'every span counted as dropped',
      async () => {
        const j = await getJob(ns.name, 'unauth');
        const pods = await jobPods(ns.name, 'unauth');
        return j.status?.trace?.spansDropped === 22 &&
          !j.metadata.finalizers?.includes(FINALIZER_TELEMETRY) &&
          tracked(pods).length === 0
          ? j
          : undefined;
      },
      60_000,
    );
    expect(settled.status?.trace?.delivered).to.deep.equal(['map', 'end']);
    const events = (await jobEvents(ns.name, 'unauth')).filter((e) => e.reason === 'SpansDropped');
    expect(events[0]?.type).to.equal('Warning');
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).to.match(/^mapreduce_telemetry_spans_dropped_total\{error_type="permanent"[^}]*\} 22$/m);
    expect(receiver.spans(), 'the receiver recorded nothing it refused').to.deep.equal([]);
    expect(receiver.refused).to.be.greaterThan(0);
  });

  it('splits requests a receiver refuses as too large, so every span still arrives once', async function () {
    // Each span carries ~8 KiB of job attributes: a request of more than ~3 spans is refused with 413.
    const attributes = Object.fromEntries(
      Array.from({ length: 8 }, (_, i) => [`blob${i}`, 'x'.repeat(1000)]),
    );
    receiver.respondWith({ kind: 'maxBytes', maxBytes: 40_000 });
    await start();
    await createJob(
      ns.name,
      makeJob('large').items(items(12)).parallelism(12).telemetry({ attributes }).obj(),
    );
    const job = await waitForPhase(ns.name, 'large', ['Succeeded', 'Failed'], 120_000);
    expect(job.status?.phase).to.equal('Succeeded');
    const delivered = await waitForDelivered('large', 14);
    expect(receiver.refused, 'some requests were refused as too large').to.be.greaterThan(0);
    expect(receiver.duplicates()).to.deep.equal([]);
    expect(delivered.status?.trace?.spansDropped).to.equal(undefined);
  });

  it('delivers the spans of a job deleted mid-run, ended as cancelled, and leaves no finalizer', async function () {
    await start();
    await createJob(
      ns.name,
      makeJob('deleted')
        .items(items(10, { sim: { neverFinish: true } }))
        .parallelism(4)
        .obj(),
    );
    const running = await waitFor(
      'four running pods',
      async () => {
        const j = await getJob(ns.name, 'deleted');
        const pods = await jobPods(ns.name, 'deleted');
        return pods.filter((p) => p.status?.phase === 'Running').length === 4 &&
          j.metadata.finalizers?.includes(FINALIZER_TELEMETRY)
          ? j
          : undefined;
      },
      60_000,
    );
    const traceId = running.status!.traceID!;
    await deleteJob(ns.name, 'deleted');
    await waitFor(
      'the job gone',
      async () => {
        try {
          await getJob(ns.name, 'deleted');
          return undefined;
        } catch (err) {
          if (isNotFound(err)) return true;
          throw err; // an API error under load is not "gone"
        }
      },
      60_000,
    );
    const spans = traceSpans(receiver, traceId);
    const [jobSpan] = named(spans, 'mapreduce.job.execute');
    expect(attr(jobSpan?.span.attributes, 'mapreduce.job.outcome')).to.equal('cancelled');
    expect(jobSpan?.span.status?.code ?? 0, 'cancelled is not an error').to.equal(0);
    expect(named(spans, 'mapreduce.phase.map')).to.have.length(1);
    const agents = named(spans, 'mapreduce.agent.execute');
    expect(agents.map((a) => attr(a.span.attributes, 'mapreduce.agent.outcome'))).to.deep.equal(
      Array(4).fill('cancelled'),
    );
    expect(receiver.duplicates()).to.deep.equal([]);
    const left = tracked(await jobPods(ns.name, 'deleted'));
    expect(left, 'no pod keeps a finalizer').to.deep.equal([]);
  });

  it('re-delivers, from another process whose clock is an hour ahead, byte for byte what a killed one sent', async function () {
    this.timeout(240_000);
    // The receiver records every request but answers 503: the first operator keeps retrying, each retry
    // carrying every span still pending, until it is killed.
    receiver.respondWith({ kind: 'status', status: 503, record: true });
    const first = await start();
    await createJob(ns.name, makeJob('again').items(items(20)).parallelism(10).reduce('sum').obj());
    const job = await waitForPhase(ns.name, 'again', ['Succeeded', 'Failed'], 120_000);
    expect(job.status?.phase).to.equal('Succeeded');
    const traceId = job.status!.traceID!;
    // 20 map attempts, the reduce attempt, the map, reduce and job spans.
    await waitFor(
      'every span sent at least once',
      () =>
        Promise.resolve(
          new Set(traceSpans(receiver, traceId).map((s) => s.span.spanId)).size === 24 ? true : undefined,
        ),
      60_000,
    );
    await first.kill();
    const sentByFirst = new Map(
      [...receiver.spanCopies()].map(([id, copies]) => [id, copies.length] as const),
    );

    const { stdout } = await run('bash', ['hack/tool-path.sh', 'faketime'], { cwd: REPO_ROOT });
    receiver.respondWith({ kind: 'accept' });
    const second = await start([], {
      LD_PRELOAD: stdout.trim(),
      FAKETIME: '+1h',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    });
    const firstLog = second.logs.find((l) => typeof l.time === 'string');
    expect(
      Date.parse(String(firstLog?.time)) - Date.now(),
      'the second operator lives an hour ahead',
    ).to.be.greaterThan(50 * 60 * 1000);
    await waitForDelivered('again', 24);
    const copies = receiver.spanCopies();
    const ours = [...copies].filter(([id]) => sentByFirst.has(id));
    expect(ours).to.have.length(24);
    for (const [id, list] of ours) {
      expect(list.length, `span ${id} sent again by the second operator`).to.be.greaterThan(
        sentByFirst.get(id)!,
      );
      for (const copy of list) expect(copy, `span ${id}, byte for byte`).to.equal(list[0]);
    }
  });
});
