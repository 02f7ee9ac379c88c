// Tracing hooks driven through the real controller's reconciles (ControllerHarness): the SDK's
// InMemorySpanExporter receives exactly what a backend would.
import { expect } from 'chai';
import { SpanStatusCode } from '@opentelemetry/api';
import { ExportResultCode, hrTimeToMilliseconds } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import {
  DurableSpanExporter,
  estimatedSpanBytes,
  EXPORT_BATCH_SIZE,
  MAX_EXPORT_BATCH_BYTES,
  SpanExportError,
} from '../../src/telemetry/exporter.js';
import { jobTraceId, spanId } from '../../src/telemetry/ids.js';
import { TracingHooks } from '../../src/telemetry/tracing.js';
import { ControllerHarness, HARNESS_UID } from '../support/controllerharness.js';
import { makeJob } from '../support/jobbuilder.js';
import type { JobBuilder } from '../support/jobbuilder.js';
import { at, mapPod, reducePod } from '../support/podstates.js';
import { rejectionThreshold, thresholdHex } from '../../src/telemetry/sampling.js';

const UID = HARNESS_UID;

/** The tracing hooks on the real controller, exporting into the SDK's InMemorySpanExporter. */
class Harness extends ControllerHarness {
  readonly memory: InMemorySpanExporter;

  constructor(builder: JobBuilder, defaultRatio = 1) {
    const memory = new InMemorySpanExporter();
    super(builder, {
      hooks: () =>
        new TracingHooks({
          exporter: new DurableSpanExporter([memory]),
          resource: Promise.resolve(resourceFromAttributes({ 'service.name': 'mapreduce-operator' })),
          version: '0.1.0',
          defaultRatio,
        }),
      controller: { keepFailedPods: 0, retryBackoffBaseMs: 1000, retryBackoffMaxMs: 8000 },
    });
    this.memory = memory;
  }

  spans(): ReadableSpan[] {
    return this.memory.getFinishedSpans();
  }

  span(name: string, attrs: Record<string, unknown> = {}): ReadableSpan {
    const found = this.spans().filter(
      (s) => s.name === name && Object.entries(attrs).every(([k, v]) => s.attributes[k] === v),
    );
    expect(found, `${name} ${JSON.stringify(attrs)}`).to.have.length(1);
    return found[0]!;
  }
}

function id(key: Parameters<typeof spanId>[2], traceId = jobTraceId(UID)): string {
  return spanId(traceId, UID, key);
}

describe('tracing hooks', function () {
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
      mapPod(0).succeeded('"a"', at(4)).obj(),
      mapPod(1).failed(1, 'Error', at(5)).obj(),
    ]);
    await h.reconcile(at(20), [
      mapPod(1, 1).succeeded('"b"', at(15)).obj(),
      mapPod(2).succeeded('"c"', at(16)).obj(),
    ]);
    await h.reconcile(at(30), [reducePod(0).succeeded('"abc"', at(28)).obj()]);

    const traceId = jobTraceId(UID);
    expect(h.job.status?.phase).to.equal('Succeeded');
    expect(h.job.status?.traceID).to.equal(traceId);
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
    expect(new Set(h.spans().map((s) => s.spanContext().traceId))).to.deep.equal(new Set([traceId]));
    for (const s of h.spans()) expect(s.attributes.team, s.name).to.equal('data');

    const job = h.span('mapreduce.job.execute');
    expect(job.parentSpanContext).to.equal(undefined);
    expect(job.spanContext().spanId).to.equal(id({ kind: 'job' }));
    expect(job.attributes).to.deep.include({
      'mapreduce.job.name': 'wc',
      'k8s.namespace.name': 'ns',
      'mapreduce.job.uid': UID,
      'mapreduce.job.total_items': 3,
      'mapreduce.job.max_parallel': 2,
      'mapreduce.job.succeeded_items': 3,
      'mapreduce.job.failed_items': 0,
      'mapreduce.job.retries': 1,
    });
    expect([hrTimeToMilliseconds(job.startTime), hrTimeToMilliseconds(job.endTime)]).to.deep.equal([
      at(0).getTime(),
      at(30).getTime(),
    ]);

    const map = h.span('mapreduce.phase.map');
    const reduce = h.span('mapreduce.phase.reduce');
    expect(map.parentSpanContext?.spanId).to.equal(job.spanContext().spanId);
    expect(reduce.parentSpanContext?.spanId).to.equal(job.spanContext().spanId);
    expect(hrTimeToMilliseconds(map.endTime)).to.equal(at(20).getTime());
    expect(hrTimeToMilliseconds(reduce.startTime)).to.equal(at(20).getTime());
    expect(map.attributes).to.deep.include({
      'mapreduce.phase.type': 'map',
      'mapreduce.phase.succeeded_count': 3,
    });

    const failed = h.span('mapreduce.agent.execute', { 'mapreduce.item.index': 1, 'mapreduce.attempt': 0 });
    expect(failed.parentSpanContext?.spanId).to.equal(map.spanContext().spanId);
    expect(failed.status).to.deep.equal({ code: SpanStatusCode.ERROR, message: 'exit code 1' });
    expect(failed.events.map((e) => e.name)).to.deep.equal(['container.terminated', 'exception']);
    expect(failed.attributes).to.deep.include({
      'mapreduce.item.id': '1', // items without an idPath are known by their index
      'k8s.pod.name': 'wc-1-0',
      'mapreduce.agent.exit_code': 1,
      'mapreduce.agent.duration_ms': 5000,
      'mapreduce.agent.outcome': 'failed',
      'mapreduce.failure.reason': 'exit code 1',
      'error.type': 'exit code 1',
    });
    const retry = h.span('mapreduce.agent.execute', { 'mapreduce.item.index': 1, 'mapreduce.attempt': 1 });
    expect(retry.links.map((l) => l.context.spanId)).to.deep.equal([failed.spanContext().spanId]);
    expect(retry.status.code).to.equal(SpanStatusCode.UNSET);

    const reducer = h.span('mapreduce.agent.execute', { 'mapreduce.phase.type': 'reduce' });
    expect(reducer.parentSpanContext?.spanId).to.equal(reduce.spanContext().spanId);
    expect(reducer.links.map((l) => l.context.spanId)).to.deep.equal([
      id({ kind: 'agent', phase: 'map', index: 0, attempt: 0 }),
      id({ kind: 'agent', phase: 'map', index: 1, attempt: 1 }),
      id({ kind: 'agent', phase: 'map', index: 2, attempt: 0 }),
    ]);
  });

  it('gives each pod its agent span as TRACEPARENT, with baggage and resource attributes', async function () {
    const h = new Harness(
      makeJob('wc')
        .items(['a'])
        .telemetry({ baggage: { tenant: 'acme' } }),
    );
    await h.reconcile(at(0));
    const agent = id({ kind: 'agent', phase: 'map', index: 0, attempt: 0 });
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

  it('names the cluster in the pods’ resource: k8s.cluster.name and the detected k8s.cluster.uid, percent-encoded', async function () {
    const hooks = new TracingHooks({
      exporter: new DurableSpanExporter([new InMemorySpanExporter()]),
      resource: Promise.resolve(resourceFromAttributes({ 'k8s.cluster.uid': 'c0ffee-1' })),
      version: '0.1.0',
      defaultRatio: 1,
      clusterName: 'eu west,1',
    });
    await Promise.resolve(); // the resource's detection has resolved
    const job = makeJob('wc').items(['a']).obj();
    job.metadata = { ...job.metadata, namespace: 'ns', uid: UID };
    const status = { trace: { spanID: 'ab'.repeat(8), sampled: true }, traceID: jobTraceId(UID) };
    const env = Object.fromEntries(
      hooks
        .decoratePod(job, status, { phase: 'map', index: 0, attempt: 0 })
        .env.map((e) => [e.name, e.value]),
    );
    expect(env.OTEL_RESOURCE_ATTRIBUTES).to.equal(
      'service.name=wc,k8s.namespace.name=ns,k8s.pod.name=$(MAPREDUCE_POD_NAME),k8s.pod.uid=$(MAPREDUCE_POD_UID),k8s.node.name=$(MAPREDUCE_NODE_NAME),k8s.cluster.name=eu%20west%2C1,k8s.cluster.uid=c0ffee-1',
    );
  });

  it('exports nothing for an unsampled job and tells its pods so', async function () {
    const h = new Harness(makeJob('wc').items(['a']).telemetry({ sampleRatio: 0 }));
    await h.reconcile(at(0));
    await h.reconcile(at(10), [mapPod(0).succeeded('"a"', at(4)).obj()]);
    expect(h.job.status?.phase).to.equal('Succeeded');
    expect(h.job.status?.trace?.sampled).to.equal(false);
    expect(h.created()[0]!.env.TRACEPARENT).to.match(/-02$/); // not sampled; random
    expect(h.spans()).to.deep.equal([]);
  });

  it('continues a parent trace given by annotation, and ignores a malformed one with a Warning', async function () {
    const parent = `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`;
    const h = new Harness(makeJob('wc').items(['a']).annotate('mapreduce.dev/traceparent', parent));
    await h.reconcile(at(0));
    await h.reconcile(at(10), [mapPod(0).succeeded('"a"', at(4)).obj()]);
    const job = h.span('mapreduce.job.execute');
    expect(job.spanContext().traceId).to.equal('ab'.repeat(16));
    expect(job.parentSpanContext?.spanId).to.equal('cd'.repeat(8));

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

  it('ends still-running attempts as cancelled when the failure policy ends the job', async function () {
    const h = new Harness(makeJob('wc').items(['a', 'b']).parallelism(2).backoffLimitPerItem(0));
    await h.reconcile(at(0));
    await h.reconcile(at(10), [mapPod(0).failed(137, 'OOMKilled', at(3)).obj(), mapPod(1).running().obj()]);
    expect(h.job.status?.phase).to.equal('Failed');
    const cancelled = h.span('mapreduce.agent.execute', { 'mapreduce.item.index': 1 });
    expect(cancelled.attributes['mapreduce.agent.outcome']).to.equal('cancelled');
    // Cancelled work is not an error of the agent's: status unset, no error.type (semantic conventions).
    expect([cancelled.status.code, cancelled.attributes['error.type']]).to.deep.equal([
      SpanStatusCode.UNSET,
      undefined,
    ]);
    expect(hrTimeToMilliseconds(cancelled.endTime)).to.equal(at(10).getTime());
    const oom = h.span('mapreduce.agent.execute', { 'mapreduce.item.index': 0 });
    expect(oom.status).to.deep.equal({ code: SpanStatusCode.ERROR, message: 'OOMKilled' });
    const job = h.span('mapreduce.job.execute');
    expect(job.status.code).to.equal(SpanStatusCode.ERROR);
    expect(job.status.message).to.match(/^FailedItemsExceeded: /);
    expect(h.span('mapreduce.phase.map').status.code).to.equal(SpanStatusCode.ERROR);
    expect(h.spans()).to.have.length(4);
  });

  it('exports the same span ids when a reconcile is repeated (after a crash before its status write)', async function () {
    const a = new Harness(makeJob('wc').items(['a']));
    const b = new Harness(makeJob('wc').items(['a']));
    for (const h of [a, b]) {
      await h.reconcile(at(0));
      await h.reconcile(at(10), [mapPod(0).succeeded('"a"', at(4)).obj()]);
    }
    const ids = (h: Harness): string[] => h.spans().map((s) => s.spanContext().spanId);
    expect(ids(a)).to.deep.equal(ids(b));
  });
});

describe('DurableSpanExporter', function () {
  class FlakyExporter implements SpanExporter {
    calls = 0;
    received: ReadableSpan[][] = [];
    constructor(private readonly failures: number) {}
    export(spans: ReadableSpan[], done: (r: { code: ExportResultCode; error?: Error }) => void): void {
      this.calls++;
      if (this.calls <= this.failures)
        done({ code: ExportResultCode.FAILED, error: new Error('unavailable') });
      else {
        this.received.push(spans);
        done({ code: ExportResultCode.SUCCESS });
      }
    }
    shutdown(): Promise<void> {
      return Promise.resolve();
    }
  }

  async function spans(n: number): Promise<ReadableSpan[]> {
    const h = new Harness(
      makeJob('wc')
        .items(Array.from({ length: n }, (_, i) => String(i)))
        .parallelism(n),
    );
    await h.reconcile(at(0));
    await h.reconcile(
      at(10),
      Array.from({ length: n }, (_, i) => mapPod(i).succeeded('"x"', at(5)).obj()),
    );
    return h.spans();
  }

  it('retries until the exporter accepts, in batches, dropping nothing', async function () {
    const all = await spans(EXPORT_BATCH_SIZE + 10);
    const flaky = new FlakyExporter(2);
    const sleeps: number[] = [];
    await new DurableSpanExporter([flaky], { sleep: (ms) => (sleeps.push(ms), Promise.resolve()) }).export(
      all,
    );
    expect(flaky.received.map((b) => b.length)).to.deep.equal([
      EXPORT_BATCH_SIZE,
      all.length - EXPORT_BATCH_SIZE,
    ]);
    expect(sleeps).to.deep.equal([100, 200]);
  });

  it('sizes requests by bytes too: spans with 64 user attributes of 1 KiB go in requests under MAX_EXPORT_BATCH_BYTES', async function () {
    const attributes: Record<string, string> = {};
    for (let i = 0; i < 64; i++) attributes[`a${i}`] = 'x'.repeat(1024);
    const h = new Harness(
      makeJob('wc')
        .items(Array.from({ length: 200 }, (_, i) => String(i)))
        .parallelism(200)
        .telemetry({ attributes }),
    );
    await h.reconcile(at(0));
    await h.reconcile(
      at(10),
      Array.from({ length: 200 }, (_, i) => mapPod(i).succeeded('"x"', at(5)).obj()),
    );
    const all = h.spans();
    const recorder = new FlakyExporter(0);
    await new DurableSpanExporter([recorder]).export(all);
    const sizes = recorder.received.map((b) => b.reduce((n, span) => n + estimatedSpanBytes(span), 0));
    // Each span is ~66 KB; 512 of them would be ~33 MiB in one request.
    expect(estimatedSpanBytes(all[0]!)).to.be.within(66_000, 70_000);
    expect(Math.max(...sizes)).to.be.at.most(MAX_EXPORT_BATCH_BYTES);
    expect(recorder.received.flat().map((s) => s.spanContext().spanId)).to.deep.equal(
      all.map((s) => s.spanContext().spanId),
    );
    expect(recorder.received.length).to.equal(
      Math.ceil(all.length / Math.floor(MAX_EXPORT_BATCH_BYTES / estimatedSpanBytes(all[0]!))),
    );
  });

  it('gives up after its deadline with an error naming the cause', async function () {
    const flaky = new FlakyExporter(Infinity);
    const exporter = new DurableSpanExporter([flaky], { deadlineMs: 0 });
    const error = await exporter.export(await spans(1)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(SpanExportError);
    expect((error as Error).message).to.equal(
      '3 spans not accepted by FlakyExporter after 1 attempts: unavailable',
    );
  });
});
