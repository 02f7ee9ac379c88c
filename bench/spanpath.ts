// The span path at the size users run, without the cluster's pace: one traced job of N items goes through the
// operator's own tracing hooks (TracingHooks over SpanDelivery, as main.ts wires them) and an OTLP/HTTP
// exporter into a real receiver, its pods' lifecycles played here as the informer would show them. The local
// control plane finishes about 40 pods/s on 2 cores, so a 100,000-item job takes it most of an hour; this
// checks the same span path at 100,000 in minutes, and how much headroom it has over the cluster's pace.
//
// `npm run bench:spanpath [-- ITEMS]` (100,000 by default) starts a receiver, runs the driver as a child
// process (`bench/spanpath.ts ITEMS ENDPOINT`, which prints its own CPU, peak RSS and wall time as JSON) so
// the receiver's memory (every request it got) is not counted as the span path's, and prints what the
// receiver got. `npm run bench` runs it too, beside the cluster's own pace.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { V1Pod } from '@kubernetes/client-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { pino } from 'pino';
import type { MapReduceJob } from '../src/api/types.js';
import { SpanDelivery } from '../src/telemetry/delivery.js';
import { SpanName } from '../src/telemetry/names.js';
import { TracingHooks } from '../src/telemetry/tracing.js';
import { makeJob } from '../test/support/jobbuilder.js';
import type { OtlpReceiver } from '../test/support/otlpreceiver.js';
import { at, mapPod, reducePod } from '../test/support/podstates.js';
import { clusterPod, persistedJob } from '../test/support/tracingbuilders.js';

/** Pods that finish per step: the parallelism of the 100,000-item job. */
export const SPAN_PATH_PARALLELISM = 500;
/**
 * Pods finished but not yet released (their spans not yet delivered) at which the driver stops finishing
 * more, as the cluster would be held back by that many Terminating pods: MAX_PENDING_SPANS, delivery's bound.
 */
const MAX_HELD_PODS = 20_000;
/** When delivery could not take more, the controller looks again after DELIVERY_FULL_RETRY_MS; here sooner. */
const FULL_PAUSE_MS = 20;
/** A driver that makes no progress for this long has failed (delivery stuck). */
const STALL_TIMEOUT_MS = 120_000;

export interface SpanPathRun {
  items: number;
  /** Wall time from the first pod to the last unit settled, in the driver. */
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  /** Peak RSS before the job began (Node.js, tsx and the modules loaded). */
  baselineRssMb: number;
  /** Times delivery said it was full (the driver then waited, as the controller requeues). */
  fullPauses: number;
  /** Most pods finished and waiting for their spans at once (at most MAX_HELD_PODS). */
  maxHeld: number;
  delivered: number;
  dropped: number;
}

export interface SpanPathResult extends SpanPathRun {
  expected: number;
  /** Distinct span ids the receiver got, of this job's trace. */
  spans: number;
  /** Spans the receiver got in all: more than `spans` means a span was delivered twice. */
  copies: number;
  /** Agent spans: one per map attempt, and the reduce attempt's. */
  agents: number;
  /** The job, map and reduce phase spans. */
  jobLevel: number;
}

function podsOfStep(first: number, count: number): V1Pod[] {
  const pods: V1Pod[] = [];
  for (let i = first; i < first + count; i++) {
    const start = at(i / SPAN_PATH_PARALLELISM);
    pods.push(
      clusterPod(
        mapPod(i)
          .succeeded(`r${i}`, new Date(start.getTime() + 200))
          .tracked(),
      )
        .itemId(String(i))
        .createdAt(start)
        .scheduledAt(new Date(start.getTime() + 10), `kwok-node-${i % 10}`)
        .obj(),
    );
  }
  return pods;
}

/** Drives one job of `items` items through the tracing hooks into the exporter at `endpoint`. */
export async function driveSpanPath(items: number, endpoint: string): Promise<SpanPathRun> {
  const counts = { delivered: 0, dropped: 0 };
  const delivery = new SpanDelivery({
    exporters: [new OTLPTraceExporter({ url: `${endpoint}/v1/traces` })],
    onNews: () => undefined,
    log: pino({ level: 'silent' }),
    observer: {
      delivered: (spans) => (counts.delivered += spans),
      failed: () => undefined,
      dropped: (spans) => (counts.dropped += spans),
    },
  });
  const hooks = new TracingHooks({
    delivery,
    resource: resourceFromAttributes({ 'service.name': 'mapreduce-operator' }),
    version: '0.1.0',
    defaultRatio: 1,
  });
  const spec = makeJob('wc')
    .items(Array.from({ length: items }, (_, i) => i))
    .parallelism(SPAN_PATH_PARALLELISM)
    .reduce();
  const done = { total: items, succeeded: items };
  const mapEnd = at(items / SPAN_PATH_PARALLELISM + 1);
  const end = new Date(mapEnd.getTime() + 1000);
  const running: MapReduceJob = persistedJob(spec).traced().running(at(0)).obj();
  const reducing = persistedJob(spec).traced().reducing(at(0), mapEnd).counts(done).obj();
  const succeeded = persistedJob(spec).traced().succeeded(at(0), end, mapEnd).counts(done).obj();

  const baselineRssMb = process.resourceUsage().maxRSS / 1024;
  const cpu = process.cpuUsage();
  const started = performance.now();
  let held: V1Pod[] = [];
  let next = 0;
  let fullPauses = 0;
  let maxHeld = 0;
  let progressAt = started;
  const release = (job: MapReduceJob): void => {
    const unsettled = hooks.unsettled(job, held);
    if (unsettled.size < held.length) progressAt = performance.now();
    hooks.released(held.filter((p) => !unsettled.has(p)));
    held = held.filter((p) => unsettled.has(p));
  };
  // The map phase: each step, the next wave of pods has finished; every reconcile hands the job's finished
  // pods to the hooks and releases those whose spans are settled, as the controller does.
  while (next < items || held.length > 0) {
    if (performance.now() - progressAt > STALL_TIMEOUT_MS)
      throw new Error(`no span settled for ${STALL_TIMEOUT_MS / 1000} s: ${held.length} pods held`);
    let full = false;
    if (next < items && held.length < MAX_HELD_PODS) {
      const count = Math.min(SPAN_PATH_PARALLELISM, items - next);
      held.push(...podsOfStep(next, count));
      next += count;
      maxHeld = Math.max(maxHeld, held.length);
    }
    if (hooks.deliver(running, held) !== undefined) full = true;
    release(running);
    if (full) fullPauses++;
    // Yields to the delivery loop (a reconcile is one turn of the event loop among the exports).
    await new Promise((r) => setTimeout(r, full || next >= items ? FULL_PAUSE_MS : 0));
  }
  // The reduce phase, then the job's end: each written, then delivered from that status.
  held = [
    clusterPod(
      reducePod(0)
        .succeeded('total', new Date(end.getTime() - 10))
        .tracked(),
    )
      .createdAt(mapEnd)
      .obj(),
  ];
  hooks.deliver(reducing, []);
  while (held.length > 0 || hooks.holdsJob(succeeded, held.length)) {
    if (performance.now() - progressAt > STALL_TIMEOUT_MS)
      throw new Error(`the job's own spans did not settle in ${STALL_TIMEOUT_MS / 1000} s`);
    hooks.deliver(succeeded, held);
    release(succeeded);
    await new Promise((r) => setTimeout(r, FULL_PAUSE_MS));
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const run: SpanPathRun = {
    items,
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    baselineRssMb,
    fullPauses,
    maxHeld,
    ...counts,
  };
  await delivery.shutdown();
  return run;
}

/** Runs the driver as a child process against the receiver and checks what the receiver got. */
export async function measureSpanPath(items: number, receiver: OtlpReceiver): Promise<SpanPathResult> {
  const file = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', file, String(items), receiver.endpoint], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`the span path driver exited with ${code}: ${out}`);
  const run = JSON.parse(out.trim().split('\n').at(-1)!) as SpanPathRun;
  const copies = receiver.spanCopies();
  let total = 0;
  for (const list of copies.values()) total += list.length;
  const names = new Map(receiver.spans().map((s) => [s.span.spanId, s.span.name]));
  const agents = [...names.values()].filter((n) => n === SpanName.Agent).length;
  return {
    ...run,
    // One agent span per map attempt and one for the reduce attempt; the job, map and reduce phase spans.
    expected: items + 1 + 3,
    spans: copies.size,
    copies: total,
    agents,
    jobLevel: copies.size - agents,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [items, endpoint] = [Number(process.argv[2] ?? 100_000), process.argv[3]];
  if (!Number.isInteger(items) || items < 1)
    throw new Error('usage: node --import tsx bench/spanpath.ts [ITEMS [OTLP_HTTP_ENDPOINT]]');
  if (endpoint) {
    // The driver, run by measureSpanPath.
    console.log(JSON.stringify(await driveSpanPath(items, endpoint)));
  } else {
    const { OtlpReceiver } = await import('../test/support/otlpreceiver.js');
    const receiver = await OtlpReceiver.start();
    try {
      console.log(JSON.stringify(await measureSpanPath(items, receiver), null, 2));
    } finally {
      await receiver.stop();
    }
  }
}
