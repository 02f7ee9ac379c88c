// The operator's memory through one job, as users run it (the compiled dist/main.js, a fresh process): its
// RSS and high-water mark (VmRSS, VmHWM from /proc) before any job (Node.js and the modules loaded, informers
// synced) and through the job, and, from bench/memprobe.mjs loaded into it, how much of that is V8 heap and
// how much of the heap is live. Optionally heap snapshots (--heapsnapshot-signal) at chosen times.
//
// npm run bench:memory -- [--items 10000] [--parallelism 500] [--duration 200ms] [--tracing] [--reduce]
//   [--node-options='--max-old-space-size=128' | --node-options=none] [--env MALLOC_ARENA_MAX=2] [--stop-after SECONDS] [--snapshot-at S1,S2] [--out DIR]
//
// --stop-after ends the run that long after the job's creation whether it has finished or not (a 100,000-item
// job takes the local cluster most of an hour; its peak comes in its first minutes). The operator runs with the
// image's V8 flags (the chart's nodeOptions) unless --node-options says otherwise ('none': V8's defaults). The
// timeline goes to DIR/timeline.jsonl (default: a fresh temporary folder), the probe's lines to
// DIR/memprobe.jsonl, snapshots to DIR.
//
// A job that ends is then waited for to settle (no pod left, its telemetry finalizer gone), and the run
// reports what it leaves behind: its status's size, its ConfigMaps and Events (count and bytes), and with
// --tracing every copy of its trace's spans the receiver got (bench/delivery.ts). --reduce adds a reduce phase.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { load } from 'js-yaml';
import { parseArgs } from 'node:util';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../src/api/types.js';
import type { MapReduceJob } from '../src/api/types.js';
import {
  cluster,
  createTestNamespace,
  deleteTestNamespace,
  kubeconfigPath,
  REPO_ROOT,
  sleep,
} from '../test/support/cluster.js';
import { FINALIZER_TELEMETRY } from '../src/api/constants.js';
import { createJob, getJob, jobConfigMaps, jobEvents, jobPods } from '../test/support/jobs.js';
import { makeJob } from '../test/support/jobbuilder.js';
import { OtlpReceiver } from '../test/support/otlpreceiver.js';
import { deliveryOf, expectedSpans } from './delivery.js';
import type { Delivery } from './delivery.js';
import { cpuSeconds, procStatus } from './proc.js';

/** How often the operator's /proc/PID/status is read. */
const SAMPLE_EVERY_MS = 1000;
/**
 * How many items make one second of wait between two reads of the job: its spec holds every item inline, so
 * each GET costs the API server (one core of the two) work in proportion (a 100,000-item job is ~600 KB of JSON,
 * and a GET of it took 0.3 s under load). A 100,000-item job is read every 10 s, one of up to 10,000 items every
 * second, and every job every second once its items left to end fit in one wave (its end is timed to a second).
 */
const ITEMS_PER_SECOND_BETWEEN_JOB_READS = 10_000;
/** Longest wait for the operator to log that it started (its informers synced, its workers running). */
const STARTUP_TIMEOUT_MS = 60_000;
/** After it started, this long before the baseline is read (its first reconciles of nothing). */
const SETTLE_AFTER_START_MS = 1000;
/** The operator's log line once its workers run (test/support/operator.ts's STARTED). */
const STARTED = '"msg":"controller started"';
const MIB = 1024 * 1024;
/** After the job's end: how long its last spans may take to be delivered and its last pods to go. */
const SETTLE_TIMEOUT_MS = 5 * 60_000;
/** How often a settling job and its pods are listed: a second is finer than any settle time worth telling. */
const SETTLE_POLL_MS = 1000;

/** The V8 flags the image and the chart run the operator with (the chart's nodeOptions), as a list. */
export function operatorNodeOptions(): string[] {
  const values = load(
    readFileSync(path.join(REPO_ROOT, 'charts', 'mapreduce-operator', 'values.yaml'), 'utf8'),
  ) as { nodeOptions?: string };
  return (values.nodeOptions ?? '').split(' ').filter(Boolean);
}

export interface MemoryOptions {
  items: number;
  parallelism: number;
  duration: string;
  tracing?: boolean;
  /** A reduce phase after the map phase. */
  reduce?: boolean;
  /** V8 flags for the operator, e.g. --max-old-space-size=128; by default the image's (operatorNodeOptions). */
  nodeOptions?: string[];
  /** More environment for the operator, e.g. MALLOC_ARENA_MAX. */
  env?: Record<string, string>;
  /** End the run this long after the job's creation, finished or not. */
  stopAfterS?: number;
  /** Heap snapshots this many seconds after the job's creation. */
  snapshotAtS?: number[];
  out?: string;
}

export interface MemorySample {
  /** Seconds since the job's creation (negative: before it). */
  t: number;
  rssMb: number;
  hwmMb: number;
  succeeded: number;
  active: number;
}

export interface MemoryRun {
  items: number;
  parallelism: number;
  tracing: boolean;
  nodeOptions: string[];
  env: Record<string, string>;
  /** VmHWM with informers synced, before the job. */
  baselineMb: number;
  /** VmRSS at the same moment. */
  baselineRssMb: number;
  /** VmHWM at the end of the run (job Succeeded, or --stop-after). */
  peakMb: number;
  /** Seconds from creation to its end (Succeeded or Failed); undefined if stopped first. */
  seconds?: number;
  /** The job's phase at the end of the run. */
  phase?: string;
  succeeded: number;
  /** Operator CPU from the job's creation to the end of the run. */
  cpuSeconds: number;
  /** Largest V8 heap the probe saw (total, and used). */
  maxHeapTotalMb: number;
  maxHeapUsedMb: number;
  loadAverage: string;
  /** What a job that ended left, once settled (undefined if stopped first). */
  after?: AfterJob;
}

/** Bytes as JSON. */
const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

export interface AfterJob {
  /** Creation to settled: no pod of the job left, its telemetry finalizer gone; undefined if not within SETTLE_TIMEOUT_MS. */
  settledSeconds?: number;
  podsLeft: number;
  /** The job's status as JSON. */
  statusBytes: number;
  /** The job's ConfigMaps (its input snapshot and results), and the Events about the job. */
  configMaps: { count: number; bytes: number };
  events: { count: number; bytes: number };
  /** With tracing: what the receiver got of the job's trace. */
  delivery?: Delivery;
}

function environmentWithoutOtel(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
}

export async function measureMemory(options: MemoryOptions): Promise<MemoryRun> {
  const out = options.out ?? mkdtempSync(path.join(tmpdir(), 'bench-memory-'));
  mkdirSync(out, { recursive: true });
  const probeFile = path.join(out, 'memprobe.jsonl');
  const ns = await createTestNamespace('bench-mem');
  const receiver = options.tracing ? await OtlpReceiver.start() : undefined;
  const nodeOptions = options.nodeOptions ?? operatorNodeOptions();
  const proc = spawn(
    process.execPath,
    [
      ...nodeOptions,
      '--heapsnapshot-signal=SIGUSR2',
      '--import',
      path.join(REPO_ROOT, 'bench', 'memprobe.mjs'),
      path.join(REPO_ROOT, 'dist', 'main.js'),
      `--kubeconfig=${kubeconfigPath()}`,
      `--namespace=${ns}`,
      '--health-port=0',
      '--metrics-port=0',
      '--log-level=info', // as the chart runs it; the start is read from it
    ],
    {
      cwd: out, // heap snapshots are written here
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...environmentWithoutOtel(),
        OTEL_METRICS_EXPORTER: 'none',
        MEMPROBE_FILE: probeFile,
        ...options.env,
        ...(receiver
          ? { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }
          : {}),
      },
    },
  );
  const timeline: MemorySample[] = [];
  try {
    await whenStarted(proc);
    await sleep(SETTLE_AFTER_START_MS);
    const pid = proc.pid!;
    const baseline = procStatus(pid);
    const cpuBefore = cpuSeconds(pid);
    timeline.push({ t: 0, ...baseline, succeeded: 0, active: 0 });
    const started = Date.now();
    const builder = makeJob('mem')
      .items(Array.from({ length: options.items }, (_, i) => i))
      .parallelism(options.parallelism)
      .mapAnnotation('sim.mapreduce.dev/duration', options.duration);
    await createJob(ns, (options.reduce ? builder.reduce() : builder).obj());
    const snapshots = [...(options.snapshotAtS ?? [])].sort((a, b) => a - b);
    let seconds: number | undefined;
    let job: MapReduceJob | undefined;
    let lastPrint = 0;
    const jobReadEveryMs = Math.max(
      SAMPLE_EVERY_MS,
      (options.items / ITEMS_PER_SECOND_BETWEEN_JOB_READS) * 1000,
    );
    let lastJobRead = 0;
    const lastWave = (j: MapReduceJob | undefined): boolean =>
      (j?.status?.succeededItems ?? 0) + (j?.status?.failedItems ?? 0) >= options.items - options.parallelism;
    for (;;) {
      await sleep(SAMPLE_EVERY_MS);
      const t = (Date.now() - started) / 1000;
      if (lastWave(job) || Date.now() - lastJobRead >= jobReadEveryMs) {
        lastJobRead = Date.now();
        job = await getJob(ns, 'mem').catch(() => job);
      }
      const sample = {
        t,
        ...procStatus(pid),
        succeeded: job?.status?.succeededItems ?? 0,
        active: job?.status?.activeItems ?? 0,
      };
      timeline.push(sample);
      if (t - lastPrint >= 10) {
        lastPrint = t;
        console.error(
          `t=${t.toFixed(0)}s rss=${sample.rssMb.toFixed(0)}MB hwm=${sample.hwmMb.toFixed(0)}MB succeeded=${sample.succeeded} active=${sample.active}`,
        );
      }
      if (snapshots.length > 0 && t >= snapshots[0]!) {
        snapshots.shift();
        await takeSnapshot(pid, out, `t${Math.round(t)}s`);
      }
      if (job?.status?.phase === 'Succeeded' || job?.status?.phase === 'Failed') {
        seconds = t;
        break;
      }
      if (options.stopAfterS !== undefined && t >= options.stopAfterS) break;
    }
    const end = procStatus(pid);
    const cpu = cpuSeconds(pid) - cpuBefore;
    const after = seconds === undefined ? undefined : await afterJob(ns, started, options, receiver);
    const probe = existsSync(probeFile)
      ? readFileSync(probeFile, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { heapTotal: number; heapUsed: number })
      : [];
    const run: MemoryRun = {
      items: options.items,
      parallelism: options.parallelism,
      tracing: options.tracing ?? false,
      nodeOptions,
      env: options.env ?? {},
      baselineMb: baseline.hwmMb,
      baselineRssMb: baseline.rssMb,
      peakMb: end.hwmMb,
      ...(seconds !== undefined ? { seconds } : {}),
      ...(job?.status?.phase ? { phase: job.status.phase } : {}),
      succeeded: job?.status?.succeededItems ?? 0,
      cpuSeconds: cpu,
      maxHeapTotalMb: Math.max(0, ...probe.map((p) => p.heapTotal)) / MIB,
      maxHeapUsedMb: Math.max(0, ...probe.map((p) => p.heapUsed)) / MIB,
      loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
      ...(after ? { after } : {}),
    };
    writeFileSync(path.join(out, 'timeline.jsonl'), timeline.map((s) => JSON.stringify(s)).join('\n') + '\n');
    writeFileSync(path.join(out, 'run.json'), JSON.stringify(run, null, 2) + '\n');
    return run;
  } finally {
    await stopGracefully(proc);
    await receiver?.stop();
    await releaseAll(ns);
    await deleteTestNamespace(ns);
  }
}

/** Waits for the ended job to settle, then reads what it left. */
async function afterJob(
  ns: string,
  started: number,
  options: MemoryOptions,
  receiver: OtlpReceiver | undefined,
): Promise<AfterJob> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let settledSeconds: number | undefined;
  let job: MapReduceJob;
  let podsLeft: number;
  for (;;) {
    job = await getJob(ns, 'mem');
    podsLeft = (await jobPods(ns, 'mem')).length;
    if (podsLeft === 0 && !job.metadata.finalizers?.includes(FINALIZER_TELEMETRY)) {
      settledSeconds = (Date.now() - started) / 1000;
      break;
    }
    if (Date.now() > deadline) break;
    await sleep(SETTLE_POLL_MS);
  }
  const configMaps = [
    ...(await jobConfigMaps(ns, 'mem', 'items')),
    ...(await jobConfigMaps(ns, 'mem', 'results')),
  ];
  const events = await jobEvents(ns, 'mem');
  return {
    ...(settledSeconds !== undefined ? { settledSeconds } : {}),
    podsLeft,
    statusBytes: jsonBytes(job.status ?? {}),
    configMaps: { count: configMaps.length, bytes: configMaps.reduce((n, c) => n + jsonBytes(c), 0) },
    events: { count: events.length, bytes: events.reduce((n, e) => n + jsonBytes(e), 0) },
    ...(receiver
      ? {
          delivery: deliveryOf(
            receiver,
            job.status?.traceID ?? '',
            expectedSpans(options.items, options.reduce ?? false),
          ),
        }
      : {}),
  };
}

/** Pods patched at once when a run stopped before its job ended. */
const RELEASE_CONCURRENCY = 20;

/**
 * A run stopped before its job ended leaves pods (and the job) held by the operator's finalizers, which no
 * operator will release: the namespace would stay Terminating, its pods loading the cluster. Strips them.
 */
export async function releaseAll(ns: string): Promise<void> {
  const { core, custom } = cluster();
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const held = (await core.listNamespacedPod({ namespace: ns })).items.filter(
    (p) => (p.metadata?.finalizers?.length ?? 0) > 0,
  );
  for (let i = 0; i < held.length; i += RELEASE_CONCURRENCY) {
    await Promise.all(
      held
        .slice(i, i + RELEASE_CONCURRENCY)
        .map((p) =>
          core
            .patchNamespacedPod(
              { namespace: ns, name: p.metadata!.name!, body: { metadata: { finalizers: null } } },
              merge,
            )
            .catch(() => undefined),
        ),
    );
  }
  const jobs = (await custom.listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: ns,
    plural: PLURAL,
  })) as { items: MapReduceJob[] };
  for (const job of jobs.items)
    await custom
      .patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace: ns,
          plural: PLURAL,
          name: job.metadata.name!,
          body: { metadata: { finalizers: null } },
        },
        merge,
      )
      .catch(() => undefined);
}

/** Resolves when the operator logs that it started; its log is read (and dropped) to the end. */
function whenStarted(proc: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the operator did not start within ${STARTUP_TIMEOUT_MS} ms`)),
      STARTUP_TIMEOUT_MS,
    );
    let tail = '';
    let seen = false;
    proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      if (seen) return;
      tail = (tail + chunk).slice(-4096);
      if (!tail.includes(STARTED)) return;
      seen = true;
      clearTimeout(timer);
      resolve();
    });
    proc.once('exit', (code) => reject(new Error(`the operator exited (${code}) before it started`)));
  });
}

/** Longest wait for the operator's graceful exit (which writes a --heap-prof or --cpu-prof profile). */
const STOP_TIMEOUT_MS = 15_000;

/** SIGTERM, as a pod is stopped, so profiles are written at exit; SIGKILL if it takes too long. */
async function stopGracefully(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  await Promise.race([exited, sleep(STOP_TIMEOUT_MS)]);
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
}

/** SIGUSR2 makes the operator write a snapshot into its cwd; waits until it is complete, renames it. */
async function takeSnapshot(pid: number, out: string, name: string): Promise<void> {
  const before = new Set(readdirSync(out));
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await sleep(1000);
    const fresh = readdirSync(out).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    if (!fresh) continue;
    const size = () => readFileSync(path.join(out, fresh)).length;
    const a = size();
    await sleep(2000);
    if (size() === a) {
      renameSync(path.join(out, fresh), path.join(out, `${name}.heapsnapshot`));
      console.error(`heap snapshot ${name} (${(a / MIB).toFixed(0)} MB)`);
      return;
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      items: { type: 'string', default: '10000' },
      parallelism: { type: 'string', default: '500' },
      duration: { type: 'string', default: '200ms' },
      tracing: { type: 'boolean', default: false },
      reduce: { type: 'boolean', default: false },
      'node-options': { type: 'string' },
      'stop-after': { type: 'string' },
      'snapshot-at': { type: 'string' },
      env: { type: 'string', multiple: true, default: [] },
      out: { type: 'string' },
    },
  });
  const run = await measureMemory({
    items: Number(values.items),
    parallelism: Number(values.parallelism),
    duration: values.duration,
    tracing: values.tracing,
    reduce: values.reduce,
    // Unset: the image's flags; 'none': V8's own defaults (as `node dist/main.js` runs).
    ...(values['node-options'] !== undefined
      ? { nodeOptions: values['node-options'].split(' ').filter((f) => f && f !== 'none') }
      : {}),
    env: Object.fromEntries(
      values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    ),
    ...(values['stop-after'] ? { stopAfterS: Number(values['stop-after']) } : {}),
    ...(values['snapshot-at'] ? { snapshotAtS: values['snapshot-at'].split(',').map(Number) } : {}),
    ...(values.out ? { out: values.out } : {}),
  });
  console.log(JSON.stringify(run, null, 2));
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] === '--release') {
  // Leftovers of runs stopped early: bench/memory.ts --release NS...
  Promise.all(process.argv.slice(3).map(releaseAll)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
} else if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
