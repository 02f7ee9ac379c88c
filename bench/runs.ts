// The runs the bench is made of, each on the local control plane with a fresh operator process: an Indexed Job,
// one MapReduceJob (its time, the operator's CPU and peak RSS, the API calls it cost, its spans), many
// MapReduceJobs at once. bench/run.ts puts them together; test/integration/bench.test.ts runs them small.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { isNotFound } from '../src/apierrors.js';
import { FINALIZER_TELEMETRY, FINALIZER_TRACKING } from '../src/api/constants.js';
import { GROUP, PLURAL, VERSION } from '../src/api/types.js';
import type { MapReduceJob } from '../src/api/types.js';
import {
  createTestNamespace,
  cluster,
  deleteTestNamespace,
  kubeconfigPath,
  REPO_ROOT,
  sleep,
} from '../test/support/cluster.js';
import { createJob, getJob, jobPods } from '../test/support/jobs.js';
import { makeJob } from '../test/support/jobbuilder.js';
import { OtlpReceiver } from '../test/support/otlpreceiver.js';
import { apiRequestCounts, callsBetween, OwnCalls } from './apicalls.js';
import type { ApiCallRow } from './apicalls.js';
import { deliveryOf, expectedSpans } from './delivery.js';
import type { Delivery } from './delivery.js';
import { operatorNodeOptions, releaseAll } from './memory.js';
import {
  aboveIdle,
  CONTROL_PLANE,
  controlPlaneCpuBetween,
  cpuSeconds,
  peakRssMb,
  readControlPlaneCpu,
} from './proc.js';
import type { ComponentCpu, ControlPlaneReading } from './proc.js';

export { deliveredOnce } from './delivery.js';
export type { Delivery } from './delivery.js';

export interface Workload {
  items: number;
  parallelism: number;
  duration: string;
}

/** A collector outage during a job: the receiver goes down this long after the job's creation, for this long. */
export interface Outage {
  startMs: number;
  lengthMs: number;
}

const TIMEOUT_MS = 15 * 60_000;
/** After the job ends (and the collector is back): how long its spans may take to be delivered and its pods released. */
export const SETTLE_TIMEOUT_MS = 2 * 60_000;
const SETTLE_POLL_MS = 500;

/** How often the bench looks whether a run's namespace (its pods) is gone. */
const NAMESPACE_GONE_POLL_MS = 1000;

/**
 * A run's whole cycle: from just before its job's creation until its namespace is gone, so every pod it made
 * has been created, run and deleted (the Indexed Job's pods only go with its namespace, by the garbage
 * collector; the operator deletes its own as it goes), with whatever else the namespace held.
 */
export interface Cycle {
  seconds: number;
  /**
   * CPU seconds of each control-plane process over the cycle, above its idle rate (bench/proc.ts's aboveIdle);
   * undefined off the local control plane, or if a process restarted meanwhile.
   */
  controlPlaneCpu?: ComponentCpu;
  /** The idle rate taken off: CPU seconds per second with nothing of the bench's running, read before the run. */
  idlePerSecond?: ComponentCpu;
}

/**
 * How long the control plane's idle rate is read before each run. Its processes are never idle (node heartbeats
 * and leases, controllers' resyncs); 5 s holds several of kwok's and the leases' periods without making the
 * bench much longer (one read per run).
 */
const IDLE_SAMPLE_MS = 5000;

/** The control plane's CPU seconds per second while nothing of the bench's runs; undefined off the local one. */
async function idleRate(): Promise<ComponentCpu | undefined> {
  const before = readControlPlaneCpu();
  await sleep(IDLE_SAMPLE_MS);
  const spent = controlPlaneCpuBetween(before, readControlPlaneCpu());
  if (!spent) return undefined;
  return Object.fromEntries(
    CONTROL_PLANE.map((name) => [name, spent[name] / (IDLE_SAMPLE_MS / 1000)]),
  ) as ComponentCpu;
}

/** The cycle from `started` (its control plane read then) until now, above the idle rate. */
function cycleSince(
  started: number,
  controlPlaneBefore: ControlPlaneReading | undefined,
  idlePerSecond: ComponentCpu | undefined,
): Cycle {
  const seconds = (Date.now() - started) / 1000;
  const spent = controlPlaneCpuBetween(controlPlaneBefore, readControlPlaneCpu());
  return {
    seconds,
    ...(spent && idlePerSecond
      ? { controlPlaneCpu: aboveIdle(spent, idlePerSecond, seconds), idlePerSecond }
      : {}),
  };
}

/** Deletes the namespace and waits until it is gone. */
async function deleteNamespaceAndWait(ns: string): Promise<void> {
  await deleteTestNamespace(ns);
  await until(
    `namespace ${ns} gone`,
    async () => {
      try {
        await cluster().core.readNamespace({ name: ns });
        return false;
      } catch (err) {
        if (isNotFound(err)) return true;
        throw err;
      }
    },
    NAMESPACE_GONE_POLL_MS,
  );
}

/** How often `until` looks, unless told. */
const POLL_MS = 200;

export async function until(
  what: string,
  probe: () => Promise<boolean>,
  pollMs = POLL_MS,
  timeoutMs = TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

export interface IndexedJobRun {
  /** Creation to Complete. */
  seconds: number;
  /** Pods the Job controller counted: succeeded and failed. */
  attempts: number;
  /** Every API call the API server counted from just before the Job's creation until Complete. */
  apiCalls: ApiCallRow[];
  /**
   * kube-controller-manager's CPU seconds over the same span, on the local control plane (undefined elsewhere):
   * the Job controller's cost for these pods, with whatever the manager's other controllers did meanwhile.
   */
  controllerManagerCpu?: number;
  cycle: Cycle;
}

/** The same fan-out as a Kubernetes Indexed Job (kube-controller-manager's Job controller). */
export async function runIndexedJob(w: Workload): Promise<IndexedJobRun> {
  const ns = await createTestNamespace('bench-job');
  const own = new OwnCalls();
  let deleted = false;
  try {
    const idle = await idleRate();
    const callsBefore = await apiRequestCounts(cluster().kc);
    const controlPlaneBefore = readControlPlaneCpu();
    const started = Date.now();
    await cluster().batch.createNamespacedJob({
      namespace: ns,
      body: {
        metadata: { name: 'indexed' },
        spec: {
          completions: w.items,
          parallelism: w.parallelism,
          completionMode: 'Indexed',
          backoffLimit: 0,
          template: {
            metadata: { annotations: { 'sim.mapreduce.dev/duration': w.duration } },
            spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox' }] },
          },
        },
      },
    });
    let attempts = 0;
    await until('the Indexed Job', async () => {
      own.add('get', 'jobs.batch');
      const j = await cluster().batch.readNamespacedJob({ namespace: ns, name: 'indexed' });
      attempts = (j.status?.succeeded ?? 0) + (j.status?.failed ?? 0);
      return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') ?? false;
    });
    const seconds = (Date.now() - started) / 1000;
    const controllerManagerCpu = controlPlaneCpuBetween(controlPlaneBefore, readControlPlaneCpu())?.[
      'kube-controller-manager'
    ];
    // Complete is set once every pod is counted and has lost its tracking finalizer: the Job's calls are done.
    // Its pods stay until the Job is deleted (their deletes, by the garbage collector, are not counted here).
    const apiCalls = callsBetween(callsBefore, await apiRequestCounts(cluster().kc), own.counts);
    // Its pods stay until now: the next run must not share the cluster with the garbage collector deleting them.
    deleted = true;
    await deleteNamespaceAndWait(ns);
    const cycle = cycleSince(started, controlPlaneBefore, idle);
    return { seconds, attempts, apiCalls, controllerManagerCpu, cycle };
  } finally {
    if (!deleted) await deleteNamespaceAndWait(ns);
  }
}

export interface MapReduceRun {
  /** Creation to Succeeded. */
  seconds: number;
  /** Peak RSS at Succeeded. */
  peakMb: number;
  /** Operator CPU from creation to Succeeded. */
  cpu: number;
  /** Operator CPU from creation until the job is settled: its spans delivered, its pods released. */
  settledCpu: number;
  /** Creation to settled; undefined if it did not settle within SETTLE_TIMEOUT_MS. */
  settledSeconds?: number;
  /** Pods still held by their tracking finalizer when the job was Succeeded. */
  heldAtSucceeded: number;
  /** Why the job did not settle, from its status and pods. */
  unsettled?: string;
  delivery?: Delivery;
  /** Item attempts: succeeded and failed items, and retries. */
  attempts: number;
  /**
   * Every API call the API server counted from just before the job's creation until it settled with no pod
   * left, the bench's own polling taken off.
   */
  apiCalls: ApiCallRow[];
  /**
   * The whole cycle, the operator running until its namespace is gone; undefined if the job did not settle (a
   * telemetry finalizer left could hold the namespace).
   */
  cycle?: Cycle;
  /** Operator CPU over the cycle. */
  cycleCpu?: number;
}

export interface RunOptions {
  /** Tracing on: spans to a fresh OtlpReceiver (http/json, sample ratio 1.0, the default). */
  tracing?: boolean;
  /** With tracing: the receiver's outage during the job. */
  outage?: Outage;
  /** More operator flags, e.g. --kube-api-qps. */
  operatorArgs?: string[];
  /** Run src/main.ts through tsx (the tests, which do not build) rather than the built dist/main.js. */
  fromSource?: boolean;
}

const isTracked = (p: V1Pod): boolean => p.metadata?.finalizers?.includes(FINALIZER_TRACKING) ?? false;

/** The environment without OTEL_*, so tracing is off unless a run turns it on. */
function environmentWithoutOtel(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
}

const JOB_RESOURCE = `${PLURAL}.${GROUP}`;

/** getJob, tallied as the bench's own call. */
async function readJob(ns: string, name: string, own: OwnCalls): Promise<MapReduceJob> {
  own.add('get', JOB_RESOURCE);
  return getJob(ns, name);
}

/** jobPods, tallied as the bench's own call. */
async function listPods(ns: string, name: string, own: OwnCalls): Promise<V1Pod[]> {
  own.add('list', 'pods');
  return jobPods(ns, name);
}

/**
 * Waits up to SETTLE_TIMEOUT_MS for the ended job to settle: no telemetry finalizer on it (its job-level spans
 * delivered or dropped), no pod of it left (released and deleted). Returns the job and its held pods as last
 * seen.
 */
async function settle(ns: string, name: string, own: OwnCalls): Promise<{ job: MapReduceJob; held: number }> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    const job = await readJob(ns, name, own);
    const pods = await listPods(ns, name, own);
    const held = pods.filter(isTracked).length;
    const settled = pods.length === 0 && !job.metadata.finalizers?.includes(FINALIZER_TELEMETRY);
    if (settled || Date.now() > deadline) return { job, held };
    await sleep(SETTLE_POLL_MS);
  }
}

/** A fresh operator process for one namespace, its logs to stderr at warn and above. */
function spawnBenchOperator(ns: string, env: NodeJS.ProcessEnv, options: RunOptions): ChildProcess {
  return spawn(
    process.execPath,
    [
      // The image's V8 flags (the chart's nodeOptions), unless BENCH_NODE_OPTIONS says otherwise (e.g.
      // --max-old-space-size=96 to see how much of the peak is collectable garbage; ' ' for V8's defaults).
      ...(process.env.BENCH_NODE_OPTIONS?.split(' ').filter(Boolean) ?? operatorNodeOptions()),
      ...(options.fromSource
        ? ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'main.ts')]
        : [path.join(REPO_ROOT, 'dist', 'main.js')]),
      `--kubeconfig=${kubeconfigPath()}`,
      `--namespace=${ns}`,
      '--health-port=0',
      '--metrics-port=0',
      '--log-level=warn',
      ...(options.operatorArgs ?? []),
    ],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...environmentWithoutOtel(), OTEL_METRICS_EXPORTER: 'none', ...env },
    },
  );
}

/** Informers synced: the operator has listed and is watching before the clock starts. */
const OPERATOR_SETTLE_MS = 1500;

/**
 * Runs the workload through a fresh operator process; returns seconds to Succeeded, the operator's peak RSS and
 * CPU, the API calls the job cost, and with tracing what the receiver got once the job settled.
 */
export async function runMapReduceJob(w: Workload, options: RunOptions = {}): Promise<MapReduceRun> {
  const ns = await createTestNamespace('bench-mrj');
  const idle = await idleRate(); // before the operator starts
  const receiver = options.tracing ? await OtlpReceiver.start() : undefined;
  const tracingEnv = receiver
    ? { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }
    : {};
  const proc = spawnBenchOperator(ns, tracingEnv, options);
  const own = new OwnCalls();
  let outageOver: Promise<void> | undefined;
  let deleted = false;
  try {
    await sleep(OPERATOR_SETTLE_MS);
    const pid = proc.pid!;
    const callsBefore = await apiRequestCounts(cluster().kc);
    const cpuBefore = cpuSeconds(pid);
    const controlPlaneBefore = readControlPlaneCpu();
    const started = Date.now();
    await createJob(
      ns,
      makeJob('bench')
        .items(Array.from({ length: w.items }, (_, i) => i))
        .parallelism(w.parallelism)
        .mapAnnotation('sim.mapreduce.dev/duration', w.duration)
        .obj(),
    );
    const outage = options.outage;
    if (receiver && outage) {
      // The collector comes back on its own schedule, whether the job has ended by then or not.
      outageOver = (async () => {
        await sleep(outage.startMs - (Date.now() - started));
        await receiver.down();
        await sleep(outage.lengthMs);
        await receiver.up();
      })();
    }
    await until(
      'the MapReduceJob',
      async () => (await readJob(ns, 'bench', own)).status?.phase === 'Succeeded',
    );
    const seconds = (Date.now() - started) / 1000;
    const cpu = cpuSeconds(pid) - cpuBefore;
    const peakMb = peakRssMb(pid);
    const heldAtSucceeded = (await listPods(ns, 'bench', own)).filter(isTracked).length;
    await outageOver;

    const { job, held } = await settle(ns, 'bench', own);
    const settled = held === 0 && !job.metadata.finalizers?.includes(FINALIZER_TELEMETRY);
    const settledCpu = cpuSeconds(pid) - cpuBefore;
    const settledSeconds = (Date.now() - started) / 1000;
    const apiCalls = callsBetween(callsBefore, await apiRequestCounts(cluster().kc), own.counts);
    let cycle: Cycle | undefined;
    let cycleCpu: number | undefined;
    if (settled) {
      deleted = true;
      await deleteNamespaceAndWait(ns);
      cycle = cycleSince(started, controlPlaneBefore, idle);
      cycleCpu = cpuSeconds(pid) - cpuBefore;
    }
    const s = job.status ?? {};
    const run: MapReduceRun = {
      seconds,
      peakMb,
      cpu,
      settledCpu,
      heldAtSucceeded,
      attempts: (s.succeededItems ?? 0) + (s.failedItems ?? 0) + (s.retries ?? 0),
      apiCalls,
      ...(cycle ? { cycle, cycleCpu } : {}),
      ...(settled ? { settledSeconds } : { unsettled: unsettledReason(job, held) }),
    };
    if (receiver)
      run.delivery = deliveryOf(receiver, job.status?.traceID ?? '', expectedSpans(w.items, false));
    return run;
  } finally {
    proc.kill('SIGKILL');
    await outageOver?.catch(() => undefined);
    await receiver?.stop();
    if (!deleted) {
      // Not settled (or failed): finalizers no operator will release would hold the namespace Terminating.
      await releaseAll(ns);
      await deleteNamespaceAndWait(ns);
    }
  }
}

export function unsettledReason(job: MapReduceJob, held: number): string {
  const finalizers = job.metadata.finalizers ?? [];
  return `${held} pods still tracked, job finalizers ${JSON.stringify(finalizers)}, status.trace ${JSON.stringify(job.status?.trace ?? null)}`;
}

export interface ManyJobsRun {
  /** Each job's creation (by the bench) to Succeeded as the bench saw it, in creation order. */
  seconds: number[];
  /** Submission of the first job to the last Succeeded. */
  wall: number;
  succeeded: number;
  cpu: number;
  peakMb: number;
}

async function listMapReduceJobs(ns: string): Promise<MapReduceJob[]> {
  const list = (await cluster().custom.listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: ns,
    plural: PLURAL,
  })) as { items: MapReduceJob[] };
  return list.items;
}

/** How often the bench lists the jobs while many run: each job's time is known to this much. */
const MANY_JOBS_POLL_MS = 500;
/**
 * Many jobs may take this long: 50 x 200 pods at the ~5 pods/s this 2-core machine managed while others loaded
 * it (load average 11-16) took over 15 minutes (TIMEOUT_MS) and would take ~33.
 */
const MANY_JOBS_TIMEOUT_MS = 60 * 60_000;

/** `count` identical jobs created at once (all requests in flight together) for one operator. */
export async function runManyJobs(
  count: number,
  w: Workload,
  options: Pick<RunOptions, 'fromSource' | 'operatorArgs'> = {},
): Promise<ManyJobsRun> {
  const ns = await createTestNamespace('bench-many');
  const proc = spawnBenchOperator(ns, {}, options);
  try {
    await sleep(OPERATOR_SETTLE_MS);
    const pid = proc.pid!;
    const cpuBefore = cpuSeconds(pid);
    const names = Array.from({ length: count }, (_, i) => `job-${String(i).padStart(2, '0')}`);
    const created = new Map<string, number>();
    const started = Date.now();
    await Promise.all(
      names.map(async (name) => {
        await createJob(
          ns,
          makeJob(name)
            .items(Array.from({ length: w.items }, (_, i) => i))
            .parallelism(w.parallelism)
            .mapAnnotation('sim.mapreduce.dev/duration', w.duration)
            .obj(),
        );
        created.set(name, Date.now());
      }),
    );
    const done = new Map<string, number>();
    await until(
      `${count} MapReduceJobs`,
      async () => {
        for (const job of await listMapReduceJobs(ns)) {
          const phase = job.status?.phase;
          if ((phase === 'Succeeded' || phase === 'Failed') && !done.has(job.metadata.name!))
            done.set(job.metadata.name!, Date.now());
        }
        return done.size === count;
      },
      MANY_JOBS_POLL_MS,
      MANY_JOBS_TIMEOUT_MS,
    );
    const wall = (Date.now() - started) / 1000;
    const jobs = await listMapReduceJobs(ns);
    return {
      seconds: names.map((n) => (done.get(n)! - created.get(n)!) / 1000),
      wall,
      succeeded: jobs.filter((j) => j.status?.phase === 'Succeeded').length,
      cpu: cpuSeconds(pid) - cpuBefore,
      peakMb: peakRssMb(pid),
    };
  } finally {
    proc.kill('SIGKILL');
    await deleteTestNamespace(ns);
  }
}

/** Restarts kube-controller-manager with these client limits (hack/restart-component.sh replaces the flags). */
export function restartControllerManager(qps: number, burst: number): void {
  execFileSync(
    'bash',
    [
      path.join(REPO_ROOT, 'hack', 'restart-component.sh'),
      'kube-controller-manager',
      '0',
      `--kube-api-qps=${qps}`,
      `--kube-api-burst=${burst}`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/** Pod durations as written in the annotation ('500ms', '1s') in seconds. */
export const durationSeconds = (d: string): number =>
  d.endsWith('ms') ? Number(d.slice(0, -2)) / 1000 : Number(d.slice(0, -1));
