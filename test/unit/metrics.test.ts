// Metrics hooks driven through the real controller's reconciles (ControllerHarness), read back with the
// SDK's own collection path.
import { expect } from 'chai';
import type { Attributes } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ControllerGauges } from '../../src/telemetry/gauges.js';
import { MetricsHooks } from '../../src/telemetry/metrics.js';
import { observePod } from '../../src/controller/podobservation.js';
import { ControllerHarness } from '../support/controllerharness.js';
import { makeJob } from '../support/jobbuilder.js';
import type { JobBuilder } from '../support/jobbuilder.js';
import { at, mapPod, reducePod } from '../support/podstates.js';

class TestReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** The metrics hooks on the real controller, read back through the SDK's own collection path. */
class Harness extends ControllerHarness {
  readonly reader: TestReader;
  readonly hooks: MetricsHooks;
  gauges: ControllerGauges = { jobs: [], workQueueDepth: 0 };

  constructor(builder: JobBuilder, perJob = true) {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const holder: { gauges: () => ControllerGauges } = { gauges: () => ({ jobs: [], workQueueDepth: 0 }) };
    const hooks = new MetricsHooks([provider.getMeter('test')], { perJob, gauges: () => holder.gauges() });
    super(builder, {
      hooks: () => hooks,
      controller: { keepFailedPods: 0, retryBackoffBaseMs: 1000, retryBackoffMaxMs: 8000 },
    });
    holder.gauges = () => this.gauges;
    this.reader = reader;
    this.hooks = hooks;
  }

  async collect(): Promise<ResourceMetrics> {
    const { resourceMetrics, errors } = await this.reader.collect();
    expect(errors).to.deep.equal([]);
    return resourceMetrics;
  }
}

function points(rm: ResourceMetrics, name: string): DataPoint<number | Histogram>[] {
  const metric = rm.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  return (metric?.dataPoints ?? []) as DataPoint<number | Histogram>[];
}

/** Sum of a counter's or gauge's points whose attributes include `attrs`. */
function value(rm: ResourceMetrics, name: string, attrs: Attributes = {}): number {
  return points(rm, name)
    .filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))
    .reduce((sum, p) => sum + (p.value as number), 0);
}

function histogram(
  rm: ResourceMetrics,
  name: string,
  attrs: Attributes = {},
): { count: number; sum: number } {
  const ps = points(rm, name).filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));
  return ps.reduce(
    (acc, p) => ({
      count: acc.count + (p.value as Histogram).count,
      sum: acc.sum + ((p.value as Histogram).sum ?? 0),
    }),
    { count: 0, sum: 0 },
  );
}

describe('metrics hooks', function () {
  it('counts each attempt once, by outcome, through a retry, a failure and a reduce', async function () {
    const h = new Harness(
      makeJob('wc').items(['a', 'b', 'c']).parallelism(3).backoffLimitPerItem(1).maxFailedItems(1).reduce(),
    );
    await h.reconcile(at(0));
    await h.reconcile(at(10), [
      mapPod(0).succeeded('"a"', at(4)).obj(),
      mapPod(1).failed(1, 'Error', at(5)).obj(),
      mapPod(2).failed(2, 'Error', at(6)).obj(),
    ]);
    await h.reconcile(at(20), [
      mapPod(1, 1).succeeded('"b"', at(15)).obj(),
      mapPod(2, 1).failed(2, 'Error', at(16)).obj(),
    ]);
    await h.reconcile(at(21)); // the status recording every item is written: the reduce pod goes in
    await h.reconcile(at(30), [reducePod(0).succeeded('"ab"', at(28)).obj()]);
    expect(h.job.status).to.deep.include({
      phase: 'Succeeded',
      succeededItems: 2,
      failedItems: 1,
      retries: 2,
    });

    const rm = await h.collect();
    const job = { 'k8s.namespace.name': 'ns', 'mapreduce.job.name': 'wc' };
    const map = { ...job, 'mapreduce.phase.type': 'map' };
    const reduce = { ...job, 'mapreduce.phase.type': 'reduce' };
    expect({
      startedMap: value(rm, 'mapreduce.agents.started', map),
      startedReduce: value(rm, 'mapreduce.agents.started', reduce),
      completedMap: value(rm, 'mapreduce.agents.completed', map),
      completedReduce: value(rm, 'mapreduce.agents.completed', reduce),
      failed: value(rm, 'mapreduce.agents.failed', { ...map, reason: 'exit code 2' }),
      retriedExit1: value(rm, 'mapreduce.agents.retried', { ...map, reason: 'exit code 1' }),
      retriedExit2: value(rm, 'mapreduce.agents.retried', { ...map, reason: 'exit code 2' }),
      jobsStarted: value(rm, 'mapreduce.jobs.started', job),
      jobsCompleted: value(rm, 'mapreduce.jobs.completed', job),
      jobsFailed: value(rm, 'mapreduce.jobs.failed', job),
    }).to.deep.equal({
      startedMap: 5,
      startedReduce: 1,
      completedMap: 2,
      completedReduce: 1,
      failed: 1,
      retriedExit1: 1,
      retriedExit2: 1,
      jobsStarted: 1,
      jobsCompleted: 1,
      jobsFailed: 0,
    });
    // Durations from the pods' own times: 4+5+6+15+16 s of map attempts, 28 s of reduce.
    expect(histogram(rm, 'mapreduce.agent.duration', map)).to.deep.equal({ count: 5, sum: 46 });
    expect(histogram(rm, 'mapreduce.agent.duration', reduce)).to.deep.equal({ count: 1, sum: 28 });
    expect(histogram(rm, 'mapreduce.job.duration', job)).to.deep.equal({ count: 1, sum: 30 });
    const agentDuration = rm.scopeMetrics[0]!.metrics.find(
      (m) => m.descriptor.name === 'mapreduce.agent.duration',
    )!;
    expect(agentDuration.descriptor.unit).to.equal('s');
    expect(agentDuration.dataPointType).to.equal(DataPointType.HISTOGRAM);
  });

  it('counts a superseded attempt once though its held pod is reported again, even after its release', async function () {
    const h = new Harness(makeJob('wc').items(['a']));
    const older = mapPod(0, 0).failed(1, 'Error', at(2)).obj();
    older.metadata!.uid = 'uid-older';
    const observation = observePod(older)!;
    const record = {
      job: h.job,
      status: h.job.status ?? {},
      finished: [{ observation, final: false }],
      itemId: () => undefined,
      now: at(3),
      events: [],
    };
    h.hooks.statusWritten(record); // reported when its retry was seen
    h.hooks.released([older]); // its span delivered, its finalizer removed
    h.hooks.statusWritten(record); // a reconcile on a cache that still shows it
    const rm = await h.collect();
    expect(value(rm, 'mapreduce.agents.retried', { 'mapreduce.phase.type': 'map' })).to.equal(1);
  });

  it('counts a failed job by its reason, and not the attempts its end cancelled', async function () {
    const h = new Harness(makeJob('wc').items(['a', 'b']).parallelism(2).backoffLimitPerItem(0));
    await h.reconcile(at(0));
    await h.reconcile(at(10), [mapPod(0).failed(137, 'OOMKilled', at(3)).obj(), mapPod(1).running().obj()]);
    const rm = await h.collect();
    expect(value(rm, 'mapreduce.jobs.failed', { reason: 'FailedItemsExceeded' })).to.equal(1);
    expect(value(rm, 'mapreduce.agents.failed', { reason: 'OOMKilled' })).to.equal(1);
    expect(histogram(rm, 'mapreduce.agent.duration').count).to.equal(1);
  });

  it('reads gauges from the caches, per job or summed per namespace', async function () {
    const gauges: ControllerGauges = {
      jobs: [
        { namespace: 'a', name: 'one', active: 3, pending: 10 },
        { namespace: 'a', name: 'two', active: 2, pending: 0 },
        { namespace: 'b', name: 'three', active: 1, pending: 5 },
      ],
      workQueueDepth: 4,
    };
    const perJob = new Harness(makeJob('x'), true);
    perJob.gauges = gauges;
    let rm = await perJob.collect();
    expect(
      points(rm, 'mapreduce.agents.active').map((p) => [p.attributes['mapreduce.job.name'], p.value]),
    ).to.deep.equal([
      ['one', 3],
      ['two', 2],
      ['three', 1],
    ]);
    expect(value(rm, 'mapreduce.workqueue.depth')).to.equal(4);

    const perNamespace = new Harness(makeJob('x'), false);
    perNamespace.gauges = gauges;
    rm = await perNamespace.collect();
    expect(points(rm, 'mapreduce.queue.depth').map((p) => [p.attributes, p.value])).to.deep.equal([
      [{ 'k8s.namespace.name': 'a' }, 10],
      [{ 'k8s.namespace.name': 'b' }, 5],
    ]);
  });

  it('records reconciles like controller-runtime: count by result, errors, duration, queue wait', async function () {
    const h = new Harness(makeJob('x'));
    h.hooks.reconciled({ result: 'success', durationMs: 20, waitedMs: 5 });
    h.hooks.reconciled({ result: 'error', durationMs: 30, waitedMs: 15 });
    const rm = await h.collect();
    expect(value(rm, 'mapreduce.controller.reconciles', { result: 'success' })).to.equal(1);
    expect(value(rm, 'mapreduce.controller.reconciles', { result: 'error' })).to.equal(1);
    expect(value(rm, 'mapreduce.controller.reconcile.errors')).to.equal(1);
    expect(histogram(rm, 'mapreduce.controller.reconcile.duration')).to.deep.equal({ count: 2, sum: 0.05 });
    expect(histogram(rm, 'mapreduce.workqueue.queue_duration')).to.deep.equal({ count: 2, sum: 0.02 });
  });
});
