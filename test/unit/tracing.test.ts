// Tracing hooks over a real SpanDelivery into the SDK's InMemorySpanExporter: driven through the real
// controller's reconciles (ControllerHarness), and called directly for what one hook promises.
import { expect } from 'chai';
import { SpanStatusCode } from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { V1Pod } from '@kubernetes/client-node';
import { FINALIZER_TRACKING } from '../../src/api/constants.js';
import type { MapReduceJob } from '../../src/api/types.js';
import { estimatedSpanBytes, MAX_EXPORT_BATCH_BYTES } from '../../src/telemetry/exporter.js';
import { jobTraceId } from '../../src/telemetry/ids.js';
import { rejectionThreshold, thresholdHex } from '../../src/telemetry/sampling.js';
import { ControllerHarness } from '../support/controllerharness.js';
import { makeJob } from '../support/jobbuilder.js';
import type { JobBuilder } from '../support/jobbuilder.js';
import { at, mapPod, reducePod } from '../support/podstates.js';
import type { AgentPodBuilder } from '../support/podstates.js';
import {
  clusterPod,
  GatedExporter,
  idOf,
  JOB_KEY,
  JOB_UID,
  persistedJob,
  quietRecord,
  RecordingExporter,
  RefusingExporter,
  tracingFixture,
  viewOf,
  viewsOf,
} from '../support/tracingbuilders.js';
import type { FixtureOptions, SpanView, TracingFixture } from '../support/tracingbuilders.js';

const UID = JOB_UID;

/** A map pod of an item known by its index (no idPath), tracked, as the operator made it. */
function mapAt(index: number, attempt: number, state: (p: AgentPodBuilder) => AgentPodBuilder): V1Pod {
  return clusterPod(state(mapPod(index, attempt)).tracked())
    .itemId(String(index))
    .obj();
}

function reduceAt(attempt: number, state: (p: AgentPodBuilder) => AgentPodBuilder): V1Pod {
  return clusterPod(state(reducePod(attempt)).tracked()).obj();
}

/** The tracing hooks on the real controller; the harness plays the cluster, and applies the job's finalizer patches. */
class Harness extends ControllerHarness {
  readonly t: TracingFixture;

  constructor(builder: JobBuilder, fixture: FixtureOptions = {}) {
    const t = tracingFixture(fixture);
    super(builder, {
      hooks: () => t.hooks,
      controller: { keepFailedPods: 0, retryBackoffBaseMs: 1000, retryBackoffMaxMs: 8000 },
    });
    this.t = t;
  }

  /** As the base harness, and the cache then shows the job's finalizer patches and the pods' releases. */
  override async reconcile(now: Date, pods: V1Pod[] = []): Promise<number | undefined> {
    const patches = this.client.jobPatches.length;
    const releases = this.released().length;
    const again = await super.reconcile(now, pods);
    for (const patch of this.client.jobPatches.slice(patches) as { metadata: { finalizers: string[] } }[])
      this.job.metadata.finalizers = patch.metadata.finalizers;
    // A released pod being deleted is gone; one kept for its logs has lost its tracking finalizer.
    const released = new Set(this.released().slice(releases));
    this.pods.items = this.pods.items.flatMap((p) => {
      if (!released.has(p.metadata!.name!)) return [p];
      if (p.metadata!.deletionTimestamp) return [];
      const finalizers = p.metadata!.finalizers?.filter((f) => f !== FINALIZER_TRACKING);
      return [{ ...p, metadata: { ...p.metadata, finalizers } }];
    });
    return again;
  }

  spans(): ReadableSpan[] {
    return this.t.spans();
  }

  span(name: string, attrs: Record<string, unknown> = {}): ReadableSpan {
    const found = this.spans().filter(
      (s) => s.name === name && Object.entries(attrs).every(([k, v]) => s.attributes[k] === v),
    );
    expect(found, `${name} ${JSON.stringify(attrs)}`).to.have.length(1);
    return found[0]!;
  }

  /** Pods whose tracking finalizer the controller removed, in order. */
  released(): string[] {
    return this.client.log
      .filter((l) => l.startsWith('patchNamespacedPod ') && l.endsWith(' release'))
      .map((l) => l.split(' ')[1]!.split('/')[1]!);
  }

  /** The telemetry finalizer patches of the job, in order ("" for its removal). */
  jobFinalizers(): string[] {
    return (this.client.jobPatches as { metadata: { finalizers: string[] } }[]).map((p) =>
      p.metadata.finalizers.join(','),
    );
  }
}

const ms = (t: Date): number => t.getTime();

describe('tracing hooks, through the controller', function () {
  it('makes a job one trace: job, map and reduce phases, one agent span per attempt, parented and linked', async function () {
    const h = new Harness(
      makeJob('wc')
        .items(['a', 'b', 'c'])
        .parallelism(2)
        .backoffLimitPerItem(1)
        .reduce()
        .telemetry({ attributes: { team: 'data' }, baggage: { tenant: 'acme' } }),
    );
    await h.reconcile(at(0));
    await h.reconcile(at(10), [
      mapAt(0, 0, (p) => p.succeeded('"a"', at(4))),
      mapAt(1, 0, (p) => p.failed(1, 'Error', at(5))),
    ]);
    await h.t.settled();
    await h.reconcile(at(20), [
      mapAt(1, 1, (p) => p.succeeded('"b"', at(15))),
      mapAt(2, 0, (p) => p.succeeded('"c"', at(16))),
    ]);
    await h.t.settled();
    // The superseded attempt was deleted at 20 s but held: the cluster still shows it, being deleted.
    await h.reconcile(at(30), [
      reduceAt(0, (p) => p.succeeded('"abc"', at(28))),
      mapAt(1, 0, (p) => p.failed(1, 'Error', at(5)).deleting(at(20))),
    ]);
    await h.t.settled();
    await h.reconcile(at(31)); // the finished job: its units marked, its pods released in the background
    await h.reconcile(at(32)); // the cache shows them gone: the job's finalizer goes

    const traceId = jobTraceId(UID);
    expect(h.job.status?.phase).to.equal('Succeeded');
    expect(h.job.status?.traceID).to.equal(traceId);
    expect(h.job.status?.trace).to.deep.equal({
      spanID: idOf({ kind: 'job' }),
      sampled: true,
      random: true,
      operatorVersion: '0.1.0',
      mapEndTime: at(20).toISOString(),
      reduceLinks: '0.0,1.1,2.0',
      delivered: ['map', 'end'],
    });
    expect(
      h
        .spans()
        .map((s) => s.name)
        .sort(),
    ).to.deep.equal([
      'mapreduce.agent.execute',
      'mapreduce.agent.execute',
      'mapreduce.agent.execute',
      'mapreduce.agent.execute',
      'mapreduce.agent.execute',
      'mapreduce.job.execute',
      'mapreduce.phase.map',
      'mapreduce.phase.reduce',
    ]);
    expect(new Set(h.spans().map((s) => s.spanContext().spanId)).size).to.equal(8); // each exactly once
    expect(new Set(h.spans().map((s) => s.spanContext().traceId))).to.deep.equal(new Set([traceId]));
    for (const s of h.spans()) expect(s.attributes.team, s.name).to.equal('data');
    for (const s of h.spans())
      expect(s.resource.attributes, s.name).to.deep.equal({
        'service.name': 'mapreduce-operator',
        'service.version': '0.1.0',
      });

    const job = h.span('mapreduce.job.execute');
    expect(job.parentSpanContext).to.equal(undefined);
    expect(job.spanContext().spanId).to.equal(idOf({ kind: 'job' }));
    expect(job.status).to.deep.equal({ code: SpanStatusCode.UNSET });
    expect(job.attributes).to.deep.equal({
      team: 'data',
      'mapreduce.job.name': 'wc',
      'k8s.namespace.name': 'ns',
      'mapreduce.job.uid': UID,
      'mapreduce.job.total_items': 3,
      'mapreduce.job.max_parallel': 2,
      'mapreduce.job.succeeded_items': 3,
      'mapreduce.job.failed_items': 0,
      'mapreduce.job.retries': 1,
      'mapreduce.job.phase': 'Succeeded',
      'mapreduce.job.outcome': 'succeeded',
    });
    expect([hrTimeToMilliseconds(job.startTime), hrTimeToMilliseconds(job.endTime)]).to.deep.equal([
      ms(at(0)),
      ms(at(30)),
    ]);

    const map = h.span('mapreduce.phase.map');
    const reduce = h.span('mapreduce.phase.reduce');
    expect(map.parentSpanContext?.spanId).to.equal(job.spanContext().spanId);
    expect(reduce.parentSpanContext?.spanId).to.equal(job.spanContext().spanId);
    expect(hrTimeToMilliseconds(map.endTime)).to.equal(ms(at(20)));
    expect(hrTimeToMilliseconds(reduce.startTime)).to.equal(ms(at(20)));
    expect(map.attributes).to.deep.include({
      'mapreduce.phase.type': 'map',
      'mapreduce.phase.parallelism': 2,
      'mapreduce.phase.succeeded_count': 3,
      'mapreduce.phase.failed_count': 0,
    });

    const failed = h.span('mapreduce.agent.execute', { 'mapreduce.item.index': 1, 'mapreduce.attempt': 0 });
    expect(failed.parentSpanContext?.spanId).to.equal(map.spanContext().spanId);
    expect(failed.status).to.deep.equal({ code: SpanStatusCode.ERROR, message: 'exit code 1' });
    expect(failed.events.map((e) => e.name)).to.deep.equal(['container.terminated', 'exception']);
    expect(failed.attributes).to.deep.equal({
      team: 'data',
      'mapreduce.job.name': 'wc',
      'k8s.namespace.name': 'ns',
      'mapreduce.phase.type': 'map',
      'mapreduce.attempt': 0,
      'mapreduce.item.index': 1,
      'mapreduce.item.id': '1', // from the pod's MAPREDUCE_ITEM_ID: items without an idPath go by index
      'k8s.pod.name': 'wc-1-0',
      'k8s.pod.uid': 'uid-wc-1-0',
      'mapreduce.agent.exit_code': 1,
      'mapreduce.agent.duration_ms': 5000,
      'mapreduce.agent.outcome': 'failed',
      'mapreduce.failure.reason': 'exit code 1',
      'error.type': 'exit code 1',
    });
    const retry = h.span('mapreduce.agent.execute', { 'mapreduce.item.index': 1, 'mapreduce.attempt': 1 });
    expect(retry.links.map((l) => [l.context.spanId, l.attributes])).to.deep.equal([
      [failed.spanContext().spanId, { 'mapreduce.link.type': 'previous_attempt' }],
    ]);
    expect(retry.status.code).to.equal(SpanStatusCode.UNSET);

    const reducer = h.span('mapreduce.agent.execute', { 'mapreduce.phase.type': 'reduce' });
    expect(reducer.parentSpanContext?.spanId).to.equal(reduce.spanContext().spanId);
    expect(reducer.links.map((l) => l.context.spanId)).to.deep.equal([
      idOf({ kind: 'agent', phase: 'map', index: 0, attempt: 0 }),
      idOf({ kind: 'agent', phase: 'map', index: 1, attempt: 1 }),
      idOf({ kind: 'agent', phase: 'map', index: 2, attempt: 0 }),
    ]);

    // Every pod kept its tracking finalizer only until its span was delivered; the job's went last.
    expect(h.released().sort()).to.deep.equal(['wc-0-0', 'wc-1-0', 'wc-1-1', 'wc-2-0', 'wc-reduce-0']);
    expect(h.jobFinalizers()).to.deep.equal(['mapreduce.dev/telemetry', '']);
  });

  it('gives each pod its agent span as TRACEPARENT, with baggage and resource attributes', async function () {
    const h = new Harness(
      makeJob('wc')
        .items(['a'])
        .telemetry({ baggage: { tenant: 'acme' } }),
    );
    await h.reconcile(at(0));
    const agent = idOf({ kind: 'agent', phase: 'map', index: 0, attempt: 0 });
    const traceparent = `00-${jobTraceId(UID)}-${agent}-03`; // sampled, and random (the id is a hash)
    expect(h.created()).to.have.length(1);
    expect(h.created()[0]!.annotations['mapreduce.dev/traceparent']).to.equal(traceparent);
    const env = h.created()[0]!.env;
    expect(env.TRACEPARENT).to.equal(traceparent);
    expect(env.BAGGAGE!.split(',').sort()).to.deep.equal([
      'k8s.namespace.name=ns',
      'mapreduce.item.index=0',
      'mapreduce.job.name=wc',
      'tenant=acme',
    ]);
    expect(env.OTEL_RESOURCE_ATTRIBUTES).to.equal(
      'service.name=wc,k8s.namespace.name=ns,k8s.pod.name=$(MAPREDUCE_POD_NAME),k8s.pod.uid=$(MAPREDUCE_POD_UID),k8s.node.name=$(MAPREDUCE_NODE_NAME),k8s.container.name=agent',
    );
    expect(env.MAPREDUCE_POD_UID).to.equal('fieldRef:metadata.uid');
  });

  it('merges a container’s own OTEL_RESOURCE_ATTRIBUTES after the operator’s, so its entries win', async function () {
    const h = new Harness(makeJob('wc').items(['a']));
    h.job.spec.map.template.spec!.containers[0]!.env = [
      { name: 'OTEL_RESOURCE_ATTRIBUTES', value: 'service.name=my-agent,team=search' },
    ];
    await h.reconcile(at(0));
    const env = h.created()[0]!.env;
    expect(env.OTEL_RESOURCE_ATTRIBUTES).to.equal(
      'service.name=wc,k8s.namespace.name=ns,k8s.pod.name=$(MAPREDUCE_POD_NAME),k8s.pod.uid=$(MAPREDUCE_POD_UID),k8s.node.name=$(MAPREDUCE_NODE_NAME),k8s.container.name=agent,service.name=my-agent,team=search',
    );
  });

  it('keeps BAGGAGE within the W3C limits, the operator’s entries first, and says which entries it left out', async function () {
    // 64 entries of 200 bytes each: about 13 KiB, over the 8,192 bytes a baggage header may hold.
    const baggage: Record<string, string> = {};
    for (let i = 0; i < 64; i++) baggage[`k${String(i).padStart(2, '0')}`] = 'v'.repeat(200);
    const h = new Harness(makeJob('wc').items(['a']).telemetry({ baggage }));
    await h.reconcile(at(0));
    const header = h.created()[0]!.env.BAGGAGE!;
    const keys = header.split(',').map((m) => m.split('=')[0]!);
    const kept = keys.filter((k) => /^k\d\d$/.test(k));
    expect(keys.slice(0, 2)).to.deep.equal(['mapreduce.job.name', 'k8s.namespace.name']);
    expect(keys).to.include('mapreduce.item.index');
    expect(Buffer.byteLength(header)).to.be.at.most(8192);
    expect(kept).to.deep.equal(Object.keys(baggage).slice(0, kept.length));
    const dropped = Object.keys(baggage).slice(kept.length);
    expect(
      h.client.events.filter((e) => e.reason === 'BaggageTruncated').map((e) => e.message),
    ).to.deep.equal([
      `spec.telemetry.baggage: ${dropped.join(', ')} left out of the pods' BAGGAGE: W3C baggage holds at most 180 members and 8192 bytes, the operator's own entries first`,
    ]);
  });

  it('gives a job sampled by ratio its OTEP 235 threshold in TRACESTATE, and keeps a parent’s random flag as it was', async function () {
    const byRatio = new Harness(makeJob('wc').items(['a']).telemetry({ sampleRatio: 0.999 }));
    await byRatio.reconcile(at(0));
    expect(byRatio.job.status?.trace?.sampled).to.equal(true);
    expect(byRatio.created()[0]!.env.TRACESTATE).to.equal(`ot=th:${thresholdHex(rejectionThreshold(0.999))}`);

    const flags: string[] = [];
    for (const parentFlags of ['01', '03']) {
      const h = new Harness(
        makeJob('wc')
          .items(['a'])
          .annotate('mapreduce.dev/traceparent', `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-${parentFlags}`),
      );
      await h.reconcile(at(0));
      flags.push(h.created()[0]!.env.TRACEPARENT!.slice(-2));
      expect(h.created()[0]!.env.TRACESTATE).to.equal(undefined); // the parent decided: no threshold of ours
    }
    expect(flags).to.deep.equal(['01', '03']);
  });

  it('names the cluster in the pods’ resource: k8s.cluster.name and the detected k8s.cluster.uid, percent-encoded', function () {
    const t = tracingFixture({ clusterName: 'eu west,1', clusterUid: 'c0ffee-1' });
    const job = persistedJob(makeJob('wc').items(['a']))
      .traced()
      .obj();
    const env = Object.fromEntries(
      t.hooks
        .decoratePod(job, job.status!, { phase: 'map', index: 0, attempt: 0 })
        .env.map((e) => [e.name, e.value]),
    );
    expect(env.OTEL_RESOURCE_ATTRIBUTES).to.equal(
      'service.name=wc,k8s.namespace.name=ns,k8s.pod.name=$(MAPREDUCE_POD_NAME),k8s.pod.uid=$(MAPREDUCE_POD_UID),k8s.node.name=$(MAPREDUCE_NODE_NAME),k8s.cluster.name=eu%20west%2C1,k8s.cluster.uid=c0ffee-1',
    );
  });

  it('exports nothing for an unsampled job, tells its pods so, and holds neither them nor the job', async function () {
    const h = new Harness(makeJob('wc').items(['a']).telemetry({ sampleRatio: 0 }));
    await h.reconcile(at(0));
    await h.reconcile(at(10), [mapAt(0, 0, (p) => p.succeeded('"a"', at(4)))]);
    await h.t.settled();
    await h.reconcile(at(11));
    expect(h.job.status?.phase).to.equal('Succeeded');
    expect(h.job.status?.trace?.sampled).to.equal(false);
    expect(h.created()[0]!.env.TRACEPARENT).to.match(/-02$/); // not sampled; random
    expect(h.spans()).to.deep.equal([]);
    expect(h.released()).to.deep.equal(['wc-0-0']);
    expect(h.jobFinalizers()).to.deep.equal([]);
  });

  it('continues a parent trace given by annotation, and ignores a malformed one with a Warning', async function () {
    const parent = `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`;
    const h = new Harness(makeJob('wc').items(['a']).annotate('mapreduce.dev/traceparent', parent));
    await h.reconcile(at(0));
    await h.reconcile(at(10), [mapAt(0, 0, (p) => p.succeeded('"a"', at(4)))]);
    await h.t.settled();
    const job = h.span('mapreduce.job.execute');
    expect(job.spanContext().traceId).to.equal('ab'.repeat(16));
    expect(job.parentSpanContext?.spanId).to.equal('cd'.repeat(8));
    expect(h.span('mapreduce.agent.execute').spanContext().traceFlags).to.equal(1); // the parent's flags

    const withState = new Harness(
      makeJob('wc')
        .items(['a'])
        .annotate('mapreduce.dev/traceparent', parent)
        .annotate('mapreduce.dev/tracestate', 'ci=build-42,vendor=x'),
    );
    await withState.reconcile(at(0));
    expect(withState.created()[0]!.env.TRACESTATE).to.equal('ci=build-42,vendor=x');
    expect(withState.created()[0]!.env.TRACEPARENT).to.match(new RegExp(`^00-${'ab'.repeat(16)}-`));

    const bad = new Harness(makeJob('wc').items(['a']).telemetry({ parentTraceparent: '00-xyz-01' }));
    await bad.reconcile(at(0));
    expect(bad.eventReasons()).to.deep.equal(['Started', 'InvalidTraceparent']);
    expect(bad.job.status?.traceID).to.equal(jobTraceId(UID));
  });

  it('ends a still-running attempt as cancelled when the failure policy ends the job: marked, then delivered from its pod', async function () {
    const h = new Harness(makeJob('wc').items(['a', 'b']).parallelism(2).backoffLimitPerItem(0));
    await h.reconcile(at(0));
    await h.reconcile(at(10), [
      mapAt(0, 0, (p) => p.failed(137, 'OOMKilled', at(3))),
      mapAt(1, 0, (p) => p.running()),
    ]);
    expect(h.job.status?.phase).to.equal('Failed');
    // Held (its span is not delivered), the running pod is marked with the job's end, then deleted.
    expect(h.client.log.filter((l) => l.includes('wc-1-0')).slice(1)).to.deep.equal([
      'patchNamespacedPod ns/wc-1-0 {"metadata":{"annotations":{"mapreduce.dev/cancelled-at":"2026-01-01T00:00:10.000Z"}}}',
      'deleteNamespacedPod ns/wc-1-0',
    ]);
    await h.t.settled();
    expect(h.spans().map((s) => s.name)).to.have.members([
      'mapreduce.agent.execute',
      'mapreduce.phase.map',
      'mapreduce.job.execute',
    ]); // the running pod as the cache showed it has not ended: no span yet

    // The cluster shows the pod marked and being deleted; its span is built from that.
    const cancelledPod = clusterPod(mapPod(1).running().tracked().deleting(at(10)))
      .itemId('1')
      .cancelledAt(at(10))
      .obj();
    await h.reconcile(at(11), [cancelledPod]);
    await h.t.settled();
    await h.reconcile(at(12), [cancelledPod]);
    expect(h.released()).to.deep.equal(['wc-0-0', 'wc-1-0']);
    expect(h.jobFinalizers()).to.deep.equal(['mapreduce.dev/telemetry', '']);

    const cancelled = h.span('mapreduce.agent.execute', { 'mapreduce.item.index': 1 });
    expect(cancelled.attributes['mapreduce.agent.outcome']).to.equal('cancelled');
    // Cancelled work is not an error of the agent's: status unset, no error.type (semantic conventions).
    expect([cancelled.status.code, cancelled.attributes['error.type']]).to.deep.equal([
      SpanStatusCode.UNSET,
      undefined,
    ]);
    expect(hrTimeToMilliseconds(cancelled.endTime)).to.equal(ms(at(10)));
    const oom = h.span('mapreduce.agent.execute', { 'mapreduce.item.index': 0 });
    expect(oom.status).to.deep.equal({ code: SpanStatusCode.ERROR, message: 'OOMKilled' });
    const job = h.span('mapreduce.job.execute');
    expect(job.status.code).to.equal(SpanStatusCode.ERROR);
    expect(job.status.message).to.match(/^FailedItemsExceeded: /);
    expect(job.attributes['mapreduce.job.outcome']).to.equal('failed');
    expect(job.attributes['error.type']).to.equal('FailedItemsExceeded');
    expect(h.span('mapreduce.phase.map').status.code).to.equal(SpanStatusCode.ERROR);
    expect(h.spans()).to.have.length(4);
  });

  it('gives the reduce phase its span when the status that said Reducing never landed (Running, then Succeeded)', async function () {
    const h = new Harness(makeJob('wc').items(['a']).reduce());
    await h.reconcile(at(0)); // creates the map pod
    const reduce = reduceAt(0, (p) => p.succeeded('"A"', at(15)));
    reduce.metadata!.creationTimestamp = at(11); // made by a reconcile whose status write was lost
    const before = h.job.status?.phase;
    await h.reconcile(at(20), [mapAt(0, 0, (p) => p.succeeded('"a"', at(4))), reduce]);
    await h.t.settled();
    expect([before, h.job.status?.phase, h.job.status?.trace?.mapEndTime]).to.deep.equal([
      'Running',
      'Succeeded',
      at(11).toISOString(),
    ]);
    const reduceSpan = h.span('mapreduce.phase.reduce');
    expect(hrTimeToMilliseconds(reduceSpan.startTime)).to.equal(ms(at(11)));
    const reducer = h.span('mapreduce.agent.execute', { 'mapreduce.phase.type': 'reduce' });
    expect(reducer.parentSpanContext?.spanId).to.equal(reduceSpan.spanContext().spanId);
  });

  it('lets the job end and its pods go while spans are in flight; each pod and the job keep their finalizer until delivery', async function () {
    const gate = new GatedExporter();
    const h = new Harness(makeJob('wc').items(['a']), { exporter: gate });
    await h.reconcile(at(0));
    await h.reconcile(at(10), [mapAt(0, 0, (p) => p.succeeded('"a"', at(4)))]);
    expect(h.job.status?.phase).to.equal('Succeeded'); // the data plane did not wait
    await h.reconcile(at(11));
    expect(h.client.log.filter((l) => l.includes('wc-0-0'))).to.deep.equal([
      'createNamespacedPod ns/wc-0-0',
      'deleteNamespacedPod ns/wc-0-0',
    ]); // deleted, but held: no release
    expect(h.job.status?.trace?.delivered).to.equal(undefined);
    expect(h.jobFinalizers()).to.deep.equal(['mapreduce.dev/telemetry']);

    gate.open();
    await h.t.settled();
    expect(h.t.news).to.include(JOB_KEY);
    const deleting = clusterPod(mapPod(0).succeeded('"a"', at(4)).tracked().deleting(at(11)))
      .itemId('0')
      .obj();
    await h.reconcile(at(12), [deleting]); // releases it in the background
    await h.reconcile(at(13)); // the cache shows it gone: the job's finalizer goes
    expect(h.released()).to.deep.equal(['wc-0-0']);
    expect(h.job.status?.trace?.delivered).to.deep.equal(['map', 'end']);
    expect(h.jobFinalizers()).to.deep.equal(['mapreduce.dev/telemetry', '']);
    expect(gate.received.map((s) => s.name).sort()).to.deep.equal([
      'mapreduce.agent.execute',
      'mapreduce.job.execute',
      'mapreduce.phase.map',
    ]);
  });

  it('delivers a job deleted mid-run as cancelled at its deletion, its running pod marked then', async function () {
    const h = new Harness(makeJob('wc').items(['a']));
    await h.reconcile(at(0));
    await h.reconcile(at(5), [mapAt(0, 0, (p) => p.running())]);
    Object.assign(h.job.metadata, { deletionTimestamp: at(15) });
    await h.reconcile(at(16));
    expect(h.client.log.filter((l) => l.includes('wc-0-0')).slice(1)).to.deep.equal([
      'patchNamespacedPod ns/wc-0-0 {"metadata":{"annotations":{"mapreduce.dev/cancelled-at":"2026-01-01T00:00:15.000Z"}}}',
      'deleteNamespacedPod ns/wc-0-0',
    ]);
    await h.t.settled();
    const marked = clusterPod(mapPod(0).running().tracked().deleting(at(15)))
      .itemId('0')
      .cancelledAt(at(15))
      .obj();
    await h.reconcile(at(17), [marked]);
    await h.t.settled();
    await h.reconcile(at(18), [marked]);
    expect(new Set(h.released())).to.deep.equal(new Set(['wc-0-0']));
    expect(h.jobFinalizers()).to.deep.equal(['mapreduce.dev/telemetry', '']);

    const views = viewsOf(h.spans()).map((v) => [v.name, v.end, v.status.code, v.attributes]);
    const common = { 'k8s.namespace.name': 'ns', 'mapreduce.job.name': 'wc' };
    expect(views).to.have.deep.members([
      [
        'mapreduce.agent.execute',
        at(15).toISOString(),
        SpanStatusCode.UNSET,
        {
          ...common,
          'mapreduce.phase.type': 'map',
          'mapreduce.attempt': 0,
          'k8s.pod.name': 'wc-0-0',
          'mapreduce.agent.duration_ms': 15000,
          'mapreduce.agent.outcome': 'cancelled',
          'mapreduce.item.index': 0,
          'mapreduce.item.id': '0',
          'k8s.pod.uid': 'uid-wc-0-0',
        },
      ],
      [
        'mapreduce.job.execute',
        at(15).toISOString(),
        SpanStatusCode.UNSET,
        {
          ...common,
          'mapreduce.job.uid': UID,
          'mapreduce.job.total_items': 1,
          'mapreduce.job.max_parallel': 10, // the default parallelism
          'mapreduce.job.succeeded_items': 0,
          'mapreduce.job.failed_items': 0,
          'mapreduce.job.retries': 0,
          'mapreduce.job.phase': 'Running',
          'mapreduce.job.outcome': 'cancelled',
        },
      ],
      [
        'mapreduce.phase.map',
        at(15).toISOString(),
        SpanStatusCode.UNSET,
        {
          ...common,
          'mapreduce.phase.type': 'map',
          'mapreduce.phase.parallelism': 10,
          'mapreduce.phase.succeeded_count': 0,
          'mapreduce.phase.failed_count': 0,
        },
      ],
    ]);
  });

  it('exports the same spans when a reconcile is repeated (after a crash before its status write)', async function () {
    const a = new Harness(makeJob('wc').items(['a']));
    const b = new Harness(makeJob('wc').items(['a']), { version: '0.1.0', clock: () => ms(at(500)) });
    for (const h of [a, b]) {
      await h.reconcile(at(0));
      await h.reconcile(at(10), [mapAt(0, 0, (p) => p.succeeded('"a"', at(4)))]);
      await h.t.settled();
    }
    expect(viewsOf(a.spans())).to.have.length(3);
    expect(viewsOf(b.spans())).to.deep.equal(viewsOf(a.spans()));
  });
});

describe('tracing hooks', function () {
  describe('decorateStatus on the first reconcile', function () {
    const rows: { name: string; options: FixtureOptions; ratio?: number; trace: object }[] = [
      {
        name: 'records the operator version and the detected cluster uid',
        options: { version: '0.1.0', clusterUid: 'cluster-a' },
        trace: {
          spanID: idOf({ kind: 'job' }),
          sampled: true,
          random: true,
          operatorVersion: '0.1.0',
          clusterUID: 'cluster-a',
        },
      },
      {
        name: 'records the version alone when no cluster uid was detected',
        options: { version: '0.2.0' },
        trace: { spanID: idOf({ kind: 'job' }), sampled: true, random: true, operatorVersion: '0.2.0' },
      },
      {
        name: 'records them for an unsampled job too',
        options: { version: '0.1.0', clusterUid: 'cluster-a', defaultRatio: 0 },
        trace: {
          spanID: idOf({ kind: 'job' }),
          sampled: false,
          random: true,
          operatorVersion: '0.1.0',
          clusterUID: 'cluster-a',
        },
      },
    ];
    for (const row of rows) {
      it(row.name, function () {
        const t = tracingFixture(row.options);
        const job = persistedJob(makeJob('wc').items(['a'])).obj();
        const r = quietRecord(job, at(0));
        t.hooks.decorateStatus(r);
        expect(r.status.traceID).to.equal(jobTraceId(UID));
        expect(r.status.trace).to.deep.equal(row.trace);
        expect(r.events).to.deep.equal([]);
      });
    }

    it('keeps what the trace recorded at its start on later reconciles, whatever this replica is', function () {
      const t = tracingFixture({ version: '0.2.0', clusterUid: 'cluster-b' });
      const job = persistedJob(makeJob('wc').items(['a']))
        .traced({ clusterUID: 'cluster-a' })
        .running(at(0))
        .obj();
      const r = quietRecord(job, at(5));
      t.hooks.decorateStatus(r);
      expect(r.status).to.deep.equal(job.status);
    });
  });

  describe('the spans’ resource and scope', function () {
    /** A finished job with a reduce, and one pod of each kind of attempt. */
    function finishedJob(trace: { clusterUID?: string; operatorVersion?: string }): {
      job: MapReduceJob;
      pods: V1Pod[];
    } {
      const job = persistedJob(makeJob('wc').items(['a', 'b']).parallelism(2).reduce())
        .traced({ reduceLinks: '0.0,1.1' })
        .succeeded(at(0), at(30), at(20))
        .counts({ total: 2, succeeded: 2, retries: 1 })
        .obj();
      const t = job.status!.trace!;
      delete t.operatorVersion;
      Object.assign(t, trace);
      const pods = [
        clusterPod(mapPod(0).succeeded('"a"', at(4)).tracked())
          .itemId('a')
          .scheduledAt(at(1), 'node-1')
          .obj(),
        clusterPod(mapPod(1).failed(1, 'Error', at(5)).tracked())
          .itemId('b')
          .obj(),
        clusterPod(mapPod(1, 1).succeeded('"b"', at(15)).tracked())
          .itemId('b')
          .createdAt(at(7))
          .obj(),
        clusterPod(reducePod().succeeded('"ab"', at(28)).tracked())
          .createdAt(at(20))
          .obj(),
      ];
      return { job, pods };
    }

    it('are what the trace recorded at its start: two replicas of other versions, clusters and clocks send identical spans', async function () {
      const { job, pods } = finishedJob({ operatorVersion: '0.1.0', clusterUID: 'cluster-a' });
      const replicas = [
        { version: '0.1.0', clusterUid: 'cluster-a', clock: () => ms(at(100)) },
        { version: '0.2.0', clusterUid: 'cluster-b', clock: () => ms(at(5000)) },
      ].map((o) =>
        tracingFixture({
          ...o,
          resource: {
            'service.name': 'mapreduce-operator',
            'service.version': o.version,
            'k8s.cluster.uid': o.clusterUid,
          },
        }),
      );
      for (const t of replicas) {
        expect(
          t.hooks.deliver(
            structuredClone(job),
            pods.map((p) => structuredClone(p)),
          ),
        ).to.equal(undefined);
        await t.settled();
      }
      const [a, b] = [viewsOf(replicas[0]!.spans()), viewsOf(replicas[1]!.spans())];
      expect(a).to.have.length(7); // four attempts, two phases, the job
      expect(b).to.deep.equal(a);
      for (const v of a) {
        expect(v.resource, v.name).to.deep.equal({
          'service.name': 'mapreduce-operator',
          'service.version': '0.1.0',
          'k8s.cluster.uid': 'cluster-a',
        });
        expect(v.scope, v.name).to.deep.equal({ name: 'mapreduce-operator', version: '0.1.0' });
      }

      // One of them whole: the reduce attempt.
      const reducer = a.find(
        (v) => v.attributes['mapreduce.phase.type'] === 'reduce' && v.name.includes('agent'),
      );
      const expected: SpanView = {
        name: 'mapreduce.agent.execute',
        traceId: jobTraceId(UID),
        spanId: idOf({ kind: 'agent', phase: 'reduce', index: -1, attempt: 0 }),
        parentSpanId: idOf({ kind: 'reduce' }),
        traceFlags: 3, // sampled, random
        traceState: undefined,
        start: at(20).toISOString(),
        end: at(28).toISOString(),
        hrTimes: reducer!.hrTimes,
        status: { code: SpanStatusCode.UNSET },
        attributes: {
          'k8s.namespace.name': 'ns',
          'mapreduce.job.name': 'wc',
          'mapreduce.phase.type': 'reduce',
          'mapreduce.attempt': 0,
          'k8s.pod.name': 'wc-reduce-0',
          'mapreduce.agent.duration_ms': 8000,
          'mapreduce.agent.outcome': 'succeeded',
          'k8s.pod.uid': 'uid-wc-reduce-0',
          'mapreduce.agent.exit_code': 0,
        },
        events: [
          {
            name: 'container.terminated',
            time: at(28).toISOString(),
            attributes: { 'mapreduce.agent.exit_code': 0 },
          },
        ],
        links: [
          {
            spanId: idOf({ kind: 'agent', phase: 'map', index: 0, attempt: 0 }),
            attributes: { 'mapreduce.link.type': 'map_result' },
          },
          {
            spanId: idOf({ kind: 'agent', phase: 'map', index: 1, attempt: 1 }),
            attributes: { 'mapreduce.link.type': 'map_result' },
          },
        ],
        resource: {
          'service.name': 'mapreduce-operator',
          'service.version': '0.1.0',
          'k8s.cluster.uid': 'cluster-a',
        },
        scope: { name: 'mapreduce-operator', version: '0.1.0' },
      };
      expect(reducer).to.deep.equal(expected);
      expect(reducer!.hrTimes).to.deep.equal([
        [ms(at(20)) / 1000, 0],
        [ms(at(28)) / 1000, 0],
        [8, 0],
      ]);
      const scheduled = a.find((v) => v.attributes['k8s.pod.name'] === 'wc-0-0');
      expect(scheduled!.events.map((e) => [e.name, e.time])).to.deep.equal([
        ['pod.scheduled', at(1).toISOString()],
        ['container.terminated', at(4).toISOString()],
      ]);
      expect(scheduled!.attributes['k8s.node.name']).to.equal('node-1');
    });

    const resourceRows: {
      name: string;
      trace: { clusterUID?: string; operatorVersion?: string };
      resource: Record<string, string>;
    }[] = [
      {
        name: 'the recorded version and cluster uid, over this replica’s',
        trace: { operatorVersion: '0.1.0', clusterUID: 'cluster-a' },
        resource: {
          'service.name': 'mapreduce-operator',
          'service.version': '0.1.0',
          'k8s.cluster.uid': 'cluster-a',
        },
      },
      {
        name: 'no cluster uid when the trace recorded none, though this replica detected one',
        trace: { operatorVersion: '0.1.0' },
        resource: { 'service.name': 'mapreduce-operator', 'service.version': '0.1.0' },
      },
      {
        name: 'this replica’s version when the trace recorded none (a trace started before it was recorded)',
        trace: {},
        resource: { 'service.name': 'mapreduce-operator', 'service.version': '0.2.0' },
      },
    ];
    for (const row of resourceRows) {
      it(`carry ${row.name}`, async function () {
        const { job, pods } = finishedJob(row.trace);
        const t = tracingFixture({
          version: '0.2.0',
          clusterUid: 'cluster-b',
          resource: {
            'service.name': 'mapreduce-operator',
            'service.version': '0.2.0',
            'k8s.cluster.uid': 'cluster-b',
            // The operator's namespace: not on a job's spans, whose k8s.namespace.name is the job's.
            'k8s.namespace.name': 'mapreduce-system',
          },
        });
        t.hooks.deliver(job, pods);
        await t.settled();
        expect(t.spans()).to.have.length(7);
        for (const s of t.spans()) {
          expect(s.resource.attributes, s.name).to.deep.equal(row.resource);
          expect(s.instrumentationScope.version, s.name).to.equal(row.resource['service.version']);
        }
      });
    }
  });

  describe('deliver: an agent span only for an attempt whose end is persisted', function () {
    interface Ended {
      outcome: string;
      status: { code: SpanStatusCode; message?: string };
      errorType: string | undefined;
      exitCode: number | undefined;
      end: Date;
      events: string[];
    }
    const rows: { name: string; pod: V1Pod; span: Ended | undefined }[] = [
      { name: 'a pending pod: none', pod: clusterPod(mapPod(0).tracked()).obj(), span: undefined },
      { name: 'a running pod: none', pod: clusterPod(mapPod(0).running().tracked()).obj(), span: undefined },
      {
        name: 'a succeeded pod: ends at its container’s termination',
        pod: clusterPod(mapPod(0).succeeded('"a"', at(4)).tracked()).obj(),
        span: {
          outcome: 'succeeded',
          status: { code: SpanStatusCode.UNSET },
          errorType: undefined,
          exitCode: 0,
          end: at(4),
          events: ['container.terminated'],
        },
      },
      {
        name: 'a failed pod: an error, with its reason',
        pod: clusterPod(mapPod(0).failed(137, 'OOMKilled', at(3)).tracked()).obj(),
        span: {
          outcome: 'failed',
          status: { code: SpanStatusCode.ERROR, message: 'OOMKilled' },
          errorType: 'OOMKilled',
          exitCode: 137,
          end: at(3),
          events: ['container.terminated', 'exception'],
        },
      },
      {
        name: 'a running pod deleted by someone else: failed, PodDeleted, at its deletion',
        pod: clusterPod(mapPod(0).running().tracked().deleting(at(6))).obj(),
        span: {
          outcome: 'failed',
          status: { code: SpanStatusCode.ERROR, message: 'PodDeleted' },
          errorType: 'PodDeleted',
          exitCode: undefined,
          end: at(6),
          events: ['container.started', 'container.terminated', 'exception'],
        },
      },
      {
        name: 'a running pod marked cancelled: cancelled, no error, at the mark',
        pod: clusterPod(mapPod(0).running().tracked()).cancelledAt(at(10)).obj(),
        span: {
          outcome: 'cancelled',
          status: { code: SpanStatusCode.UNSET },
          errorType: undefined,
          exitCode: undefined,
          end: at(10),
          events: ['container.started'],
        },
      },
      {
        name: 'a marked pod its SIGTERM ended later: still cancelled at the mark, its exit not an error',
        pod: clusterPod(mapPod(0).failed(143, 'Error', at(12)).tracked())
          .cancelledAt(at(10))
          .obj(),
        span: {
          outcome: 'cancelled',
          status: { code: SpanStatusCode.UNSET },
          errorType: undefined,
          exitCode: undefined,
          end: at(10),
          events: [],
        },
      },
    ];
    for (const row of rows) {
      it(row.name, async function () {
        const t = tracingFixture();
        const job = persistedJob(makeJob('wc').items(['a']))
          .traced()
          .running(at(0))
          .counts({ total: 1, succeeded: 0 })
          .obj();
        t.hooks.deliver(job, [row.pod]);
        await t.settled();
        const spans = t.spans().map(viewOf);
        if (!row.span) {
          expect(spans).to.deep.equal([]);
          expect(t.delivery.state(row.pod.metadata!.uid!)).to.equal(undefined);
          return;
        }
        expect(spans).to.have.length(1);
        const s = spans[0]!;
        expect({
          outcome: s.attributes['mapreduce.agent.outcome'],
          status: s.status,
          errorType: s.attributes['error.type'],
          exitCode: s.attributes['mapreduce.agent.exit_code'],
          end: s.end,
          events: s.events.map((e) => e.name),
        }).to.deep.equal({ ...row.span, end: row.span.end.toISOString() });
        expect([s.name, s.spanId, s.parentSpanId, s.start]).to.deep.equal([
          'mapreduce.agent.execute',
          idOf({ kind: 'agent', phase: 'map', index: 0, attempt: 0 }),
          idOf({ kind: 'map' }),
          at(0).toISOString(),
        ]);
        expect(t.delivery.state(row.pod.metadata!.uid!)).to.equal('delivered');
      });
    }

    it('gives a cancelled attempt its whole span: cancelled, no error, ended at the mark, its item id from the pod', async function () {
      const t = tracingFixture();
      const job = persistedJob(makeJob('wc').items(['a', 'b']))
        .traced()
        .failed(at(0), at(10), 'FailedItemsExceeded', '1 of 2 items failed')
        .obj();
      const pod = clusterPod(mapPod(1).running().tracked().deleting(at(10)))
        .itemId('b')
        .cancelledAt(at(10))
        .obj();
      t.hooks.deliver(job, [pod]);
      await t.settled();
      const agent = t
        .spans()
        .map(viewOf)
        .find((v) => v.name === 'mapreduce.agent.execute');
      expect(agent).to.deep.include({
        start: at(0).toISOString(),
        end: at(10).toISOString(),
        status: { code: SpanStatusCode.UNSET },
        attributes: {
          'k8s.namespace.name': 'ns',
          'mapreduce.job.name': 'wc',
          'mapreduce.phase.type': 'map',
          'mapreduce.attempt': 0,
          'k8s.pod.name': 'wc-1-0',
          'mapreduce.agent.duration_ms': 10000,
          'mapreduce.agent.outcome': 'cancelled',
          'mapreduce.item.index': 1,
          'mapreduce.item.id': 'b',
          'k8s.pod.uid': 'uid-wc-1-0',
        },
        // The deletion is the container's end as far as the pod says; it is not after the mark.
        events: [
          { name: 'container.started', time: at(0).toISOString(), attributes: undefined },
          { name: 'container.terminated', time: at(10).toISOString(), attributes: {} },
        ],
      });
    });
  });

  describe('unsettled: tracked pods whose attempt’s span has not settled', function () {
    const ended = (): V1Pod => clusterPod(mapPod(0).succeeded('"a"', at(4)).tracked()).obj();
    const rows: {
      name: string;
      sampled?: false;
      pod: V1Pod;
      before?: 'deliver' | 'deliver, refused';
      held: boolean;
    }[] = [
      { name: 'an ended tracked pod, its span not handed over yet: held', pod: ended(), held: true },
      {
        name: 'a running tracked pod (its span cannot be built yet): held',
        pod: clusterPod(mapPod(0).running().tracked()).obj(),
        held: true,
      },
      { name: 'after its span was delivered: not held', pod: ended(), before: 'deliver', held: false },
      {
        name: 'after its span was dropped: not held (delivery gave up)',
        pod: ended(),
        before: 'deliver, refused',
        held: false,
      },
      {
        name: 'an untracked pod (already released): not held',
        pod: clusterPod(mapPod(0).succeeded('"a"', at(4))).obj(),
        held: false,
      },
      { name: 'a pod of an unsampled job: not held', sampled: false, pod: ended(), held: false },
    ];
    for (const row of rows) {
      it(row.name, async function () {
        const t = tracingFixture(
          row.before === 'deliver, refused'
            ? { exporter: new RefusingExporter(Object.assign(new Error('denied'), { code: 7 })) }
            : {},
        );
        const traced = persistedJob(makeJob('wc').items(['a', 'b'])).running(at(0));
        const job = (row.sampled === false ? traced.unsampled() : traced.traced()).obj();
        if (row.before) {
          t.hooks.deliver(job, [row.pod]);
          await t.settled();
        }
        expect([...t.hooks.unsettled(job, [row.pod])]).to.deep.equal(row.held ? [row.pod] : []);
      });
    }

    it('holds only the unsettled of several, and what delivery took is settled after it', async function () {
      const gate = new GatedExporter();
      const t = tracingFixture({ exporter: gate });
      const job = persistedJob(makeJob('wc').items(['a', 'b']))
        .traced()
        .running(at(0))
        .obj();
      const a = clusterPod(mapPod(0).succeeded('"a"', at(4)).tracked()).obj();
      const b = clusterPod(mapPod(1).succeeded('"b"', at(5)).tracked()).obj();
      t.hooks.deliver(job, [a]);
      expect([...t.hooks.unsettled(job, [a, b])]).to.deep.equal([a, b]); // a is in flight
      gate.open();
      await t.settled();
      expect([...t.hooks.unsettled(job, [a, b])]).to.deep.equal([b]);
      t.hooks.released([a]);
      // Still remembered for a while: a reconcile on a cache that does not show the release yet must not
      // take the pod's span for new and deliver it twice.
      expect([...t.hooks.unsettled(job, [a])]).to.deep.equal([]);
      t.hooks.deliver(job, [a]);
      await t.settled();
      expect(gate.received.filter((s) => s.attributes['k8s.pod.name'] === 'wc-0-0')).to.have.length(1);
    });
  });

  describe('released as soon as delivered: a pod whose record is complete loses its finalizer between reconciles', function () {
    /** A releaser whose answers the test gives: each call waits until answer() (released, or failed: []). */
    class Releaser {
      readonly calls: string[][] = [];
      private readonly pending: ((released: V1Pod[]) => void)[] = [];
      private readonly asked: V1Pod[][] = [];
      readonly release = (pods: readonly V1Pod[]): Promise<V1Pod[]> => {
        this.calls.push(pods.map((p) => p.metadata!.name!));
        this.asked.push([...pods]);
        return new Promise((resolve) => this.pending.push(resolve));
      };
      async answer(ok: boolean): Promise<void> {
        const asked = this.asked.shift()!;
        this.pending.shift()!(ok ? asked : []);
        await new Promise((r) => setImmediate(r));
      }
    }
    const job = (): MapReduceJob =>
      persistedJob(makeJob('wc').items(['a', 'b']))
        .traced()
        .running(at(0))
        .obj();
    const ended = (index: number, tracked = true): V1Pod => {
      const pod = mapPod(index).succeeded(`"${index}"`, at(4));
      return clusterPod(tracked ? pod.tracked() : pod).obj();
    };

    const rows: {
      name: string;
      exporter?: 'refusing';
      pods: () => V1Pod[];
      unsampled?: true;
      released: string[][];
    }[] = [
      {
        name: 'a tracked ended pod: released once its span is delivered',
        pods: () => [ended(0)],
        released: [['wc-0-0']],
      },
      {
        name: 'two pods: each released as the request carrying its span is answered (the first goes at once)',
        pods: () => [ended(0), ended(1)],
        released: [['wc-0-0'], ['wc-1-0']],
      },
      { name: 'an untracked pod (released already): no call', pods: () => [ended(0, false)], released: [] },
      {
        name: 'a running pod (its span cannot be built yet): no call',
        pods: () => [clusterPod(mapPod(0).running().tracked()).obj()],
        released: [],
      },
      {
        name: 'a span refused for good (dropped): no call; the reconcile releases it after writing the drop',
        exporter: 'refusing',
        pods: () => [ended(0)],
        released: [],
      },
      { name: 'an unsampled job: no call', unsampled: true, pods: () => [ended(0)], released: [] },
    ];
    for (const row of rows) {
      it(row.name, async function () {
        const r = new Releaser();
        const t = tracingFixture({
          release: r.release,
          ...(row.exporter
            ? { exporter: new RefusingExporter(Object.assign(new Error('denied'), { code: 7 })) }
            : {}),
        });
        const j = row.unsampled
          ? persistedJob(makeJob('wc').items(['a', 'b']))
              .unsampled()
              .running(at(0))
              .obj()
          : job();
        t.hooks.deliver(j, row.pods());
        await t.settled();
        expect(r.calls).to.deep.equal(row.released);
      });
    }

    it('holds the pod while its release is in flight and after it (the cache may lag); a repeated delivery does not release it again', async function () {
      const r = new Releaser();
      const t = tracingFixture({ release: r.release });
      const a = ended(0);
      t.hooks.deliver(job(), [a]);
      await t.settled();
      expect(r.calls).to.deep.equal([['wc-0-0']]);
      // A reconcile now deletes the pod but leaves its finalizer to the release in flight.
      expect([...t.hooks.unsettled(job(), [a])]).to.deep.equal([a]);
      await r.answer(true);
      // Released: a cache that still shows it tracked does not make the reconcile release it again.
      expect([...t.hooks.unsettled(job(), [a])]).to.deep.equal([a]);
      // The cache caught up: nothing to hold.
      const shown = ended(0, false);
      expect([...t.hooks.unsettled(job(), [shown])]).to.deep.equal([]);
      // A reconcile on a cache that still shows the pod tracked hands it over again: known, not re-sent.
      t.hooks.deliver(job(), [a]);
      await t.settled();
      expect(r.calls).to.deep.equal([['wc-0-0']]);
      expect(t.spans().map((s) => s.attributes['k8s.pod.name'])).to.deep.equal(['wc-0-0']);
    });

    it('leaves a failed release to the reconcile: not held, and not tried again in the background', async function () {
      const r = new Releaser();
      const t = tracingFixture({ release: r.release });
      const a = ended(0);
      t.hooks.deliver(job(), [a]);
      await t.settled();
      await r.answer(false);
      expect([...t.hooks.unsettled(job(), [a])]).to.deep.equal([]);
      t.hooks.deliver(job(), [a]);
      await t.settled();
      expect(r.calls).to.deep.equal([['wc-0-0']]);
    });

    it('releases nothing for a pod the reconcile released first', async function () {
      const gate = new GatedExporter();
      const r = new Releaser();
      const t = tracingFixture({ exporter: gate, release: r.release });
      const a = ended(0);
      t.hooks.deliver(job(), [a]);
      t.hooks.released([a]);
      gate.open();
      await t.settled();
      expect(r.calls).to.deep.equal([]);
    });
  });

  describe('job-level units', function () {
    it('delivers the map span once the status ends the map phase, then the reduce and job spans, each once', async function () {
      const t = tracingFixture();
      const builder = makeJob('wc').items(['a', 'b']).parallelism(2).reduce();
      const running = persistedJob(builder).traced().running(at(0)).counts({ total: 2, succeeded: 1 }).obj();
      expect(t.hooks.deliver(running, [])).to.equal(undefined);
      expect(t.delivery.pending).to.equal(0);
      expect(t.delivery.state(`${UID}/map`)).to.equal(undefined);

      const reducing = persistedJob(builder)
        .traced()
        .reducing(at(0), at(20))
        .counts({ total: 2, succeeded: 2 })
        .obj();
      t.hooks.deliver(reducing, []);
      await t.settled();
      expect(
        viewsOf(t.spans()).map((v) => [v.name, v.parentSpanId, v.start, v.end, v.status, v.attributes]),
      ).to.deep.equal([
        [
          'mapreduce.phase.map',
          idOf({ kind: 'job' }),
          at(0).toISOString(),
          at(20).toISOString(),
          { code: SpanStatusCode.UNSET },
          {
            'k8s.namespace.name': 'ns',
            'mapreduce.job.name': 'wc',
            'mapreduce.phase.type': 'map',
            'mapreduce.phase.parallelism': 2,
            'mapreduce.phase.succeeded_count': 2,
            'mapreduce.phase.failed_count': 0,
          },
        ],
      ]);
      const r1 = quietRecord(reducing, at(21));
      t.hooks.decorateStatus(r1);
      expect(r1.status.trace?.delivered).to.deep.equal(['map']);
      expect(t.news).to.deep.equal([JOB_KEY]);

      const succeeded = persistedJob(builder)
        .traced({ delivered: ['map'] })
        .succeeded(at(0), at(30), at(20))
        .counts({ total: 2, succeeded: 2 })
        .obj();
      t.hooks.deliver(succeeded, []);
      await t.settled();
      const later = viewsOf(t.spans()).filter((v) => v.name !== 'mapreduce.phase.map');
      expect(
        later.map((v) => [v.name, v.spanId, v.parentSpanId, v.start, v.end, v.status, v.attributes]),
      ).to.have.deep.members([
        [
          'mapreduce.phase.reduce',
          idOf({ kind: 'reduce' }),
          idOf({ kind: 'job' }),
          at(20).toISOString(),
          at(30).toISOString(),
          { code: SpanStatusCode.UNSET },
          {
            'k8s.namespace.name': 'ns',
            'mapreduce.job.name': 'wc',
            'mapreduce.phase.type': 'reduce',
            'mapreduce.phase.parallelism': 1,
            'mapreduce.phase.succeeded_count': 1,
            'mapreduce.phase.failed_count': 0,
          },
        ],
        [
          'mapreduce.job.execute',
          idOf({ kind: 'job' }),
          undefined,
          at(0).toISOString(),
          at(30).toISOString(),
          { code: SpanStatusCode.UNSET },
          {
            'k8s.namespace.name': 'ns',
            'mapreduce.job.name': 'wc',
            'mapreduce.job.uid': UID,
            'mapreduce.job.total_items': 2,
            'mapreduce.job.max_parallel': 2,
            'mapreduce.job.succeeded_items': 2,
            'mapreduce.job.failed_items': 0,
            'mapreduce.job.retries': 0,
            'mapreduce.job.phase': 'Succeeded',
            'mapreduce.job.outcome': 'succeeded',
          },
        ],
      ]);
      const r2 = quietRecord(succeeded, at(31));
      t.hooks.decorateStatus(r2);
      expect(r2.status.trace?.delivered).to.deep.equal(['map', 'end']);

      // The same status again (a reconcile whose write was lost), and the marked one: nothing new.
      t.hooks.deliver(succeeded, []);
      t.hooks.deliver({ ...succeeded, status: r2.status }, []);
      expect(t.delivery.pending).to.equal(0);
      await t.settled();
      expect(
        t
          .spans()
          .map((s) => s.name)
          .sort(),
      ).to.deep.equal(['mapreduce.job.execute', 'mapreduce.phase.map', 'mapreduce.phase.reduce']);
      expect(t.hooks.holdsJob({ ...succeeded, status: r2.status }, 0)).to.equal(false);
    });

    it('marks a failed map phase: the map span is the error when the job failed before its reduce', async function () {
      const t = tracingFixture();
      const job = persistedJob(makeJob('wc').items(['a', 'b']).reduce())
        .traced()
        .failed(at(0), at(10), 'FailedItemsExceeded', '2 of 2 items failed')
        .counts({ total: 2, succeeded: 0, failed: 2 })
        .obj();
      t.hooks.deliver(job, []);
      await t.settled();
      expect(
        viewsOf(t.spans()).map((v) => [v.name, v.end, v.status, v.attributes['error.type']]),
      ).to.have.deep.members([
        [
          'mapreduce.job.execute',
          at(10).toISOString(),
          { code: SpanStatusCode.ERROR, message: 'FailedItemsExceeded: 2 of 2 items failed' },
          'FailedItemsExceeded',
        ],
        [
          'mapreduce.phase.map',
          at(10).toISOString(),
          { code: SpanStatusCode.ERROR, message: 'FailedItemsExceeded: 2 of 2 items failed' },
          undefined,
        ],
      ]);
    });

    it('ends a job deleted mid-run at its deletionTimestamp, cancelled, no reduce span', async function () {
      const t = tracingFixture();
      const job = persistedJob(makeJob('wc').items(['a', 'b']).reduce())
        .traced()
        .running(at(0))
        .counts({ total: 2, succeeded: 1 })
        .deleting(at(15))
        .obj();
      t.hooks.deliver(job, []);
      await t.settled();
      const views = viewsOf(t.spans());
      expect(views.map((v) => [v.name, v.start, v.end, v.status.code])).to.have.deep.members([
        ['mapreduce.phase.map', at(0).toISOString(), at(15).toISOString(), SpanStatusCode.UNSET],
        ['mapreduce.job.execute', at(0).toISOString(), at(15).toISOString(), SpanStatusCode.UNSET],
      ]);
      const jobSpan = views.find((v) => v.name === 'mapreduce.job.execute')!;
      expect(jobSpan.attributes).to.deep.include({
        'mapreduce.job.phase': 'Running',
        'mapreduce.job.outcome': 'cancelled',
        'mapreduce.job.succeeded_items': 1,
      });
      expect(jobSpan.attributes['error.type']).to.equal(undefined);
      expect(t.hooks.holdsJob(job, 0)).to.equal(false); // settled: the job may go
    });
  });

  describe('dropped spans', function () {
    it('settles units an exporter refuses for good as dropped, and says so in status and a Warning until written', async function () {
      const refusing = new RefusingExporter(Object.assign(new Error('unauthenticated'), { code: 16 }));
      const t = tracingFixture({ exporter: refusing });
      const job = persistedJob(makeJob('wc').items(['a']))
        .traced()
        .succeeded(at(0), at(10))
        .counts({ total: 1, succeeded: 1 })
        .obj();
      const pod = clusterPod(mapPod(0).succeeded('"a"', at(4)).tracked())
        .itemId('a')
        .obj();
      t.hooks.deliver(job, [pod]);
      await t.settled();
      expect(
        refusing.requests
          .flat()
          .map((s) => s.name)
          .sort(),
      ).to.deep.equal(['mapreduce.agent.execute', 'mapreduce.job.execute', 'mapreduce.phase.map']); // each tried once: a permanent error is not retried
      expect(['uid-wc-0-0', `${UID}/map`, `${UID}/end`].map((id) => t.delivery.state(id))).to.deep.equal([
        'dropped',
        'dropped',
        'dropped',
      ]);
      expect(t.logs).to.deep.equal(['warn: span delivery refused; those spans are dropped']);
      expect([...t.hooks.unsettled(job, [pod])]).to.deep.equal([]);

      const event = {
        type: 'Warning',
        reason: 'SpansDropped',
        message:
          "3 spans of this job's trace were dropped: the exporter refused them for good, or they were not delivered within --span-delivery-timeout (the operator's log says which; status.trace.spansDropped counts them all)",
      };
      const first = quietRecord(job, at(11));
      t.hooks.decorateStatus(first);
      expect([first.status.trace?.spansDropped, first.status.trace?.delivered, first.events]).to.deep.equal([
        3,
        ['map', 'end'],
        [event],
      ]);

      // The status write failed (statusWritten not called): the next reconcile says it again.
      const again = quietRecord(job, at(12));
      t.hooks.decorateStatus(again);
      expect([again.status.trace?.spansDropped, again.events]).to.deep.equal([3, [event]]);

      t.hooks.statusWritten(again);
      const written = { ...job, status: again.status };
      const after = quietRecord(written, at(13));
      t.hooks.decorateStatus(after);
      expect([after.status.trace?.spansDropped, after.events]).to.deep.equal([3, []]);
      expect(t.hooks.holdsJob(written, 0)).to.equal(false);
    });

    it('counts drops that come while a write is outstanding on top of those not yet written', async function () {
      const refusing = new RefusingExporter(Object.assign(new Error('unauthenticated'), { code: 16 }));
      const t = tracingFixture({ exporter: refusing });
      const job = persistedJob(makeJob('wc').items(['a', 'b']).parallelism(2))
        .traced()
        .running(at(0))
        .obj();
      t.hooks.deliver(job, [clusterPod(mapPod(0).succeeded('"a"', at(4)).tracked()).obj()]);
      await t.settled();
      const first = quietRecord(job, at(5));
      t.hooks.decorateStatus(first);
      expect(first.status.trace?.spansDropped).to.equal(1);
      t.hooks.deliver(job, [clusterPod(mapPod(1).succeeded('"b"', at(6)).tracked()).obj()]);
      await t.settled();
      const second = quietRecord(job, at(7)); // the first write failed: job.status is as before
      t.hooks.decorateStatus(second);
      expect([
        second.status.trace?.spansDropped,
        second.events.map((e) => e.message.split(' ')[0]),
      ]).to.deep.equal([2, ['2']]);
    });
  });

  describe('holdsJob: the job keeps its telemetry finalizer', function () {
    const builder = (): JobBuilder => makeJob('wc').items(['a']);
    const rows: {
      name: string;
      job: () => MapReduceJob;
      trackedPods: number;
      deliverFirst?: boolean;
      holds: boolean;
    }[] = [
      {
        name: 'a sampled running job: yes',
        job: () => persistedJob(builder()).traced().running(at(0)).obj(),
        trackedPods: 0,
        holds: true,
      },
      {
        name: 'a finished job whose units are not handed over yet: yes',
        job: () => persistedJob(builder()).traced().succeeded(at(0), at(10)).obj(),
        trackedPods: 0,
        holds: true,
      },
      {
        name: 'a finished job, its units settled, no tracked pods: no',
        job: () => persistedJob(builder()).traced().succeeded(at(0), at(10)).obj(),
        trackedPods: 0,
        deliverFirst: true,
        holds: false,
      },
      {
        name: 'a finished job, its units settled, a tracked pod waiting for its own: yes',
        job: () => persistedJob(builder()).traced().succeeded(at(0), at(10)).obj(),
        trackedPods: 1,
        deliverFirst: true,
        holds: true,
      },
      {
        name: 'a finished job whose status marks its units delivered (another replica did): no',
        job: () => persistedJob(builder()).traced().delivered('map', 'end').succeeded(at(0), at(10)).obj(),
        trackedPods: 0,
        holds: false,
      },
      {
        name: 'a job being deleted mid-run, its units not handed over: yes',
        job: () => persistedJob(builder()).traced().running(at(0)).deleting(at(15)).obj(),
        trackedPods: 0,
        holds: true,
      },
      {
        name: 'an unsampled running job: no',
        job: () => persistedJob(builder()).unsampled().running(at(0)).obj(),
        trackedPods: 0,
        holds: false,
      },
      {
        name: 'an unsampled job with tracked pods: no',
        job: () => persistedJob(builder()).unsampled().running(at(0)).obj(),
        trackedPods: 2,
        holds: false,
      },
      {
        name: 'a job before its first reconcile (no trace yet): no',
        job: () => persistedJob(builder()).obj(),
        trackedPods: 0,
        holds: false,
      },
    ];
    for (const row of rows) {
      it(row.name, async function () {
        const t = tracingFixture();
        const job = row.job();
        if (row.deliverFirst) {
          t.hooks.deliver(job, []);
          await t.settled();
        }
        expect(t.hooks.holdsJob(job, row.trackedPods)).to.equal(row.holds);
      });
    }
  });

  it('forgets a deleted job’s units and news', async function () {
    const refusing = new RefusingExporter(Object.assign(new Error('unauthenticated'), { code: 16 }));
    const t = tracingFixture({ exporter: refusing });
    const job = persistedJob(makeJob('wc').items(['a']))
      .traced()
      .succeeded(at(0), at(10))
      .obj();
    t.hooks.deliver(job, []);
    await t.settled();
    t.hooks.decorateStatus(quietRecord(job, at(11))); // news taken, its write outstanding
    t.hooks.jobGone(job);
    expect([t.delivery.state(`${UID}/map`), t.delivery.state(`${UID}/end`)]).to.deep.equal([
      undefined,
      undefined,
    ]);
    const r = quietRecord(job, at(12));
    t.hooks.decorateStatus(r);
    expect([r.status.trace?.spansDropped, r.events]).to.deep.equal([undefined, []]);
  });

  it('gives log lines the trace and job span ids', function () {
    const t = tracingFixture();
    const job = persistedJob(makeJob('wc').items(['a']))
      .traced()
      .obj();
    expect(t.hooks.logFields(job)).to.deep.equal({
      trace_id: jobTraceId(UID),
      span_id: idOf({ kind: 'job' }),
      trace_flags: '01',
    });
  });

  it('sizes export requests by bytes: spans with 64 user attributes of 1 KiB go in requests under MAX_EXPORT_BATCH_BYTES', async function () {
    const attributes: Record<string, string> = {};
    for (let i = 0; i < 64; i++) attributes[`a${i}`] = 'x'.repeat(1024);
    const recorder = new RecordingExporter();
    const t = tracingFixture({ exporter: recorder });
    const job = persistedJob(
      makeJob('wc')
        .items(Array.from({ length: 200 }, (_, i) => String(i)))
        .parallelism(200)
        .telemetry({ attributes }),
    )
      .traced()
      .running(at(0))
      .obj();
    const pods = Array.from({ length: 200 }, (_, i) =>
      clusterPod(mapPod(i).succeeded('"x"', at(5)).tracked())
        .itemId(String(i))
        .obj(),
    );
    t.hooks.deliver(job, pods);
    await t.settled();
    const all = recorder.requests.flat();
    const size = estimatedSpanBytes(all[0]!);
    // Each span is ~66 KB; 512 of them would be ~33 MiB in one request.
    expect(size).to.be.within(66_000, 70_000);
    const bytes = recorder.requests.map((b) => b.reduce((n, span) => n + estimatedSpanBytes(span), 0));
    expect(Math.max(...bytes)).to.be.at.most(MAX_EXPORT_BATCH_BYTES);
    expect(all.map((s) => s.attributes['k8s.pod.name'])).to.deep.equal(pods.map((p) => p.metadata!.name));
    // Delivery starts with the first unit handed over (it goes alone); the rest fill requests by bytes.
    const perRequest = Math.floor(MAX_EXPORT_BATCH_BYTES / size);
    const rest = Array.from({ length: Math.ceil(199 / perRequest) }, (_, i) =>
      Math.min(perRequest, 199 - i * perRequest),
    );
    expect(recorder.requests.map((r) => r.length)).to.deep.equal([1, ...rest]);
  });
});
