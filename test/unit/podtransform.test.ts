import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { ANNOTATION_CANCELLED_AT, ENV_ITEM_ID } from '../../src/api/constants.js';
import type { MapReduceJob } from '../../src/api/types.js';
import { controllingJob, isControlledBy, isTracked, ownerReference } from '../../src/controller/ownership.js';
import { failureReason, observePod } from '../../src/controller/podobservation.js';
import { transformJob, transformPod } from '../../src/controller/podtransform.js';
import { controllerGauges } from '../../src/telemetry/gauges.js';
import { SpanDelivery } from '../../src/telemetry/delivery.js';
import { Attr, Outcome } from '../../src/telemetry/names.js';
import { agentSpan, jobTraceOf } from '../../src/telemetry/spans.js';
import type { SpanEnv } from '../../src/telemetry/spans.js';
import { tracedStatus } from '../../src/telemetry/tracestate.js';
import { TracingHooks } from '../../src/telemetry/tracing.js';
import { ControllerHarness, HARNESS_UID } from '../support/controllerharness.js';
import { makeJob } from '../support/jobbuilder.js';
import { at, T0 } from '../support/podstates.js';
import type { ServedPodBuilder } from '../support/servedpod.js';
import { servedJob, servedMapPod, servedReducePod } from '../support/servedpod.js';

const JOB_BUILDER = makeJob('wc')
  .items(['a', 'b', 'c', 'd', 'e', 'f'])
  .parallelism(6)
  .backoffLimitPerItem(1)
  .maxFailedItems(1)
  .reduce();
const JOB = servedJob(JOB_BUILDER.obj(), HARNESS_UID);
const OTHER_JOB = servedJob(makeJob('wc').obj(), 'uid-of-an-earlier-wc');
const SPAN_ENV: SpanEnv = { resource: resourceFromAttributes({ 'service.name': 'test' }), version: '0.1.0' };

/** As managePods marks an attempt stopped with its job, before deleting its pod. */
function cancelled(pod: V1Pod, time: Date | string): V1Pod {
  const value = typeof time === 'string' ? time : time.toISOString();
  pod.metadata = {
    ...pod.metadata,
    annotations: { ...pod.metadata?.annotations, [ANNOTATION_CANCELLED_AT]: value },
  };
  return pod;
}

/** A span as data: its context is behind a function. */
function spanData(span: ReadableSpan): Record<string, unknown> {
  return { ...span, spanContext: span.spanContext() };
}

/** Everything the controller and telemetry read of one pod, through their own functions. */
function readings(pod: V1Pod): unknown {
  const o = observePod(pod);
  const jt = jobTraceOf(JOB, tracedStatus(JOB.status!)!);
  const harness = new ControllerHarness(JOB_BUILDER);
  return {
    observation: o && { ...o, pod: undefined },
    failureReason: failureReason(pod),
    controller: controllingJob(pod),
    controlledByJob: isControlledBy(pod, JOB),
    tracked: isTracked(pod),
    deleting: pod.metadata?.deletionTimestamp,
    podChanged: (['add', 'update', 'delete'] as const).map((verb) =>
      harness.controller.podChanged(pod, verb),
    ),
    span: o && spanData(agentSpan(jt, SPAN_ENV, o, o.itemId)),
    gauges: controllerGauges([{ ...JOB, status: { phase: 'Running', totalItems: 6 } }], [pod], 0),
  };
}

describe('transformPod', function () {
  it('keeps exactly the fields the controller and telemetry read', function () {
    const pod = servedMapPod(JOB, 2).succeeded('{"count":3}', at(4)).deleting(at(5)).obj();
    expect(transformPod(pod)).to.deep.equal({
      metadata: {
        name: 'wc-2-0',
        namespace: 'ns',
        uid: 'pod-uid-wc-2-0',
        resourceVersion: '435',
        labels: {
          'mapreduce.dev/job-name': 'wc',
          'mapreduce.dev/phase': 'map',
          'mapreduce.dev/item-index': '2',
          'mapreduce.dev/attempt': '0',
        },
        ownerReferences: [ownerReference(JOB)],
        finalizers: ['mapreduce.dev/tracking'],
        creationTimestamp: T0,
        deletionTimestamp: at(5),
      },
      spec: {
        containers: [{ name: 'agent', env: [{ name: ENV_ITEM_ID, value: '2' }] }],
        nodeName: 'kwok-node-1',
      },
      status: {
        phase: 'Succeeded',
        conditions: [
          { type: 'PodScheduled', status: 'True', lastTransitionTime: T0 },
          { type: 'Initialized', status: 'True', lastTransitionTime: T0 },
          { type: 'Ready', status: 'False', lastTransitionTime: at(4) },
          { type: 'ContainersReady', status: 'False', lastTransitionTime: at(4) },
        ],
        containerStatuses: [
          {
            name: 'agent',
            state: {
              terminated: {
                exitCode: 0,
                reason: 'Completed',
                message: '{"count":3}',
                startedAt: T0,
                finishedAt: at(4),
              },
            },
          },
        ],
      },
    });
  });

  it('leaves the pod it is given as it was, and a transformed pod as it is', function () {
    const pod = servedMapPod(JOB, 0).running().obj();
    const before = structuredClone(pod);
    const once = transformPod(pod);
    expect(pod).to.deep.equal(before);
    expect(transformPod(once)).to.deep.equal(once);
  });

  it('keeps a small part of a served pod: no managedFields, annotations, env but the item id, or volumes', function () {
    const pod = servedMapPod(JOB, 0).succeeded('"a"').json();
    const kept = JSON.stringify(transformPod(pod));
    for (const dropped of [
      'managedFields',
      'annotations',
      'TRACEPARENT',
      'MAPREDUCE_ITEM"',
      'MAPREDUCE_ITEM_INDEX',
      'volumes',
      'image',
    ])
      expect(kept).not.to.include(dropped);
    expect(kept).to.include(ENV_ITEM_ID);
    expect(kept.length).to.be.below(JSON.stringify(pod).length / 5);
  });

  it('keeps the cancelled-at annotation and the item id, and nothing else of annotations and env', function () {
    const pod = cancelled(servedMapPod(JOB, 3).running().obj(), '2026-01-01T00:00:09Z');
    expect(Object.keys(pod.metadata!.annotations!)).to.have.length.above(1);
    expect(pod.spec!.containers[0]!.env!).to.have.length.above(1);
    const kept = transformPod(pod);
    expect({
      annotations: kept.metadata!.annotations,
      containers: kept.spec!.containers,
      observed: observePod(kept) && {
        cancelledAt: observePod(kept)!.cancelledAt,
        itemId: observePod(kept)!.itemId,
      },
    }).to.deep.equal({
      annotations: { [ANNOTATION_CANCELLED_AT]: '2026-01-01T00:00:09Z' },
      containers: [{ name: 'agent', env: [{ name: ENV_ITEM_ID, value: '3' }] }],
      observed: { cancelledAt: at(9), itemId: '3' },
    });
  });

  const partial: { name: string; pod: V1Pod }[] = [
    { name: 'an empty object', pod: {} },
    { name: 'metadata only', pod: { metadata: { name: 'p' } } },
    { name: 'a spec without containers', pod: { spec: { containers: [] } } },
    {
      name: 'nulls where the API may send them',
      pod: JSON.parse(
        '{"metadata":{"name":"p","labels":null},"spec":{"containers":null},"status":{"conditions":null,"containerStatuses":null}}',
      ) as V1Pod,
    },
    {
      name: 'a status without a state',
      pod: { status: { containerStatuses: [{ name: 'agent' } as never] } },
    },
  ];
  for (const tc of partial) {
    it(`reads ${tc.name} as the readers do`, function () {
      expect(readings(transformPod(tc.pod))).to.deep.equal(readings(tc.pod));
    });
  }
});

describe('every reader reads a transformed pod as the served one', function () {
  const cases: { name: string; pod: ServedPodBuilder; cancelledAt?: Date | string }[] = [
    { name: 'created, not scheduled', pod: servedMapPod(JOB, 0) },
    { name: 'scheduled, not started', pod: servedMapPod(JOB, 0).scheduled() },
    { name: 'running', pod: servedMapPod(JOB, 0).running(at(2)) },
    { name: 'succeeded with its result', pod: servedMapPod(JOB, 1).succeeded('{"words":12}', at(5)) },
    { name: 'failed with an exit code', pod: servedMapPod(JOB, 2).failed(3, 'Error', at(6)) },
    {
      name: 'OOMKilled, its logs as the message',
      pod: servedMapPod(JOB, 2, 1).failed(137, 'OOMKilled', at(7), 'killed\n'),
    },
    {
      name: 'evicted after it ran',
      pod: servedMapPod(JOB, 3).failed(137, 'Error', at(8)).podReason('Evicted'),
    },
    {
      name: 'failed before any container ran',
      pod: servedMapPod(JOB, 3).failedWithoutContainers('Evicted', at(9)),
    },
    { name: 'deleted by someone while running', pod: servedMapPod(JOB, 4).running().deleting(at(10)) },
    {
      name: 'a sidecar’s status listed first, main succeeded',
      pod: servedMapPod(JOB, 5)
        .succeeded('"main"', at(4))
        .sidecar({ terminated: { exitCode: 2, message: 'no' } }),
    },
    {
      name: 'a sidecar’s status listed first, main running',
      pod: servedMapPod(JOB, 5)
        .running()
        .sidecar({ terminated: { exitCode: 0, finishedAt: at(3) } }),
    },
    { name: 'released from tracking', pod: servedMapPod(JOB, 1).succeeded('"b"').released() },
    { name: 'the reduce, succeeded', pod: servedReducePod(JOB, 1).succeeded('"abc"', at(20)) },
    { name: 'an earlier job’s, still tracked', pod: servedMapPod(OTHER_JOB, 0).running() },
    {
      name: 'a large item, mounted from its ConfigMap',
      pod: servedMapPod(JOB, 0, 0, JSON.stringify('x'.repeat(40_000))).succeeded('"x"'),
    },
    { name: 'running, cancelled with its job', pod: servedMapPod(JOB, 2).running(at(2)), cancelledAt: at(9) },
    {
      name: 'cancelled with its job, being deleted',
      pod: servedMapPod(JOB, 2).running(at(2)).deleting(at(9)),
      cancelledAt: at(9),
    },
    {
      name: 'cancelled, then failed as its container was stopped',
      pod: servedMapPod(JOB, 2).failed(143, 'Error', at(10)).deleting(at(9)),
      cancelledAt: at(9),
    },
    {
      name: 'the reduce, cancelled with its job',
      pod: servedReducePod(JOB, 0).running(at(21)),
      cancelledAt: '2026-01-01T00:00:25Z',
    },
    {
      name: 'a cancelled-at annotation that is not a time',
      pod: servedMapPod(JOB, 2).running(at(2)),
      cancelledAt: 'soon',
    },
  ];
  const served = (tc: (typeof cases)[number], pod: V1Pod): V1Pod =>
    tc.cancelledAt === undefined ? pod : cancelled(pod, tc.cancelledAt);
  for (const tc of cases) {
    it(`${tc.name} (listed: Date timestamps)`, function () {
      const pod = served(tc, tc.pod.obj());
      expect(readings(transformPod(pod))).to.deep.equal(readings(pod));
    });
    it(`${tc.name} (watched: JSON)`, function () {
      const pod = served(tc, tc.pod.json());
      expect(readings(transformPod(pod))).to.deep.equal(readings(pod));
    });
  }

  it('a cancelled attempt’s span is cancelled and ends when it was cancelled, from the transformed pod', function () {
    const o = observePod(transformPod(cancelled(servedMapPod(JOB, 2).running(at(2)).json(), at(9))))!;
    const jt = jobTraceOf(JOB, tracedStatus(JOB.status!)!);
    const span = agentSpan(jt, SPAN_ENV, o, o.itemId);
    expect({
      outcome: span.attributes[Attr.AgentOutcome],
      itemId: span.attributes[Attr.ItemId],
      end: span.endTime,
    }).to.deep.equal({ outcome: Outcome.Cancelled, itemId: '2', end: [at(9).getTime() / 1000, 0] });
  });
});

/** The tracing hooks on the real controller, delivering into the SDK's InMemorySpanExporter. */
class TracedHarness extends ControllerHarness {
  readonly memory: InMemorySpanExporter;
  readonly delivery: SpanDelivery;

  constructor() {
    const memory = new InMemorySpanExporter();
    const delivery = new SpanDelivery({
      exporters: [memory],
      onNews: () => undefined,
      log: { warn: () => undefined, info: () => undefined },
    });
    super(JOB_BUILDER, {
      hooks: () =>
        new TracingHooks({
          delivery,
          resource: resourceFromAttributes({ 'service.name': 'mapreduce-operator' }),
          version: '0.1.0',
          defaultRatio: 1,
        }),
    });
    this.memory = memory;
    this.delivery = delivery;
  }

  /** Until delivery has exported all it was given (InMemorySpanExporter answers on a timer). */
  async delivered(): Promise<void> {
    for (let turn = 0; turn < 100 && this.delivery.pending > 0; turn++)
      await new Promise((r) => setTimeout(r, 0));
    expect(this.delivery.pending).to.equal(0);
  }

  spans(): ReadableSpan[] {
    return this.memory.getFinishedSpans();
  }
}

describe('a job reconciled from transformed pods', function () {
  /** The cluster's part, reconcile by reconcile: the pods the cache shows. */
  function pods(job: MapReduceJob): { now: Date; pods: ServedPodBuilder[] }[] {
    return [
      { now: at(0), pods: [] },
      {
        now: at(10),
        pods: [
          servedMapPod(job, 0).succeeded('"a"', at(4)),
          servedMapPod(job, 1).failed(1, 'Error', at(5)),
          servedMapPod(job, 2).failed(137, 'OOMKilled', at(6), 'oom\n'),
          servedMapPod(job, 3).failedWithoutContainers('Evicted', at(7)),
          servedMapPod(job, 4).running().deleting(at(8)),
          servedMapPod(job, 5)
            .succeeded('"f"', at(6))
            .sidecar({ terminated: { exitCode: 1, message: 'x' } }),
        ],
      },
      {
        now: at(20),
        pods: [
          servedMapPod(job, 1, 1).succeeded('"b"', at(15)),
          servedMapPod(job, 2, 1).failed(1, 'Error', at(16)),
          servedMapPod(job, 3, 1).succeeded('"d"', at(16)),
          servedMapPod(job, 4, 1).succeeded('"e"', at(17)),
        ],
      },
      { now: at(30), pods: [servedReducePod(job, 0).succeeded('"abcdef"', at(28))] },
    ];
  }

  async function run(transform: (pod: V1Pod) => V1Pod): Promise<unknown> {
    const h = new TracedHarness();
    for (const step of pods(JOB)) {
      await h.reconcile(
        step.now,
        step.pods.map((p) => transform(p.json())),
      );
      await h.delivered();
    }
    return {
      calls: h.client.log,
      statusWrites: h.client.statusWrites.map((j) => j.status),
      events: h.client.events,
      created: h.client.createdPods,
      spans: h
        .spans()
        .map(spanData)
        .sort((a, b) => JSON.stringify(a.spanContext).localeCompare(JSON.stringify(b.spanContext))),
      finalPhase: h.job.status?.phase,
    };
  }

  it('writes the same status, makes the same calls and exports the same spans', async function () {
    const whole = await run((p) => p);
    const trimmed = await run(transformPod);
    expect(trimmed).to.deep.equal(whole);
    expect((whole as { finalPhase: string }).finalPhase).to.equal('Succeeded');
    // Eleven attempts, the map and reduce phases, the job.
    expect((whole as { spans: unknown[] }).spans).to.have.length(14);
  });
});

describe('transformJob', function () {
  const MANAGED = [{ manager: 'kubectl', operation: 'Update', apiVersion: 'mapreduce.dev/v1alpha1' }];

  it('drops the managedFields and keeps the rest of the job, leaving its input as it was', function () {
    const job: MapReduceJob = { ...JOB, metadata: { ...JOB.metadata, managedFields: MANAGED } };
    const before = structuredClone(job);
    const kept = transformJob(job);
    expect(kept).to.deep.equal({ ...JOB, metadata: { ...JOB.metadata } });
    expect(kept.metadata).to.not.have.property('managedFields');
    expect(job).to.deep.equal(before);
  });

  it('hands back a job without managedFields as it is', function () {
    expect(transformJob(JOB)).to.equal(JOB);
  });
});
