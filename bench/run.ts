// npm run bench: the operator against Kubernetes' own Indexed Job on the same local control plane, in the same
// run, and the operator's memory as a job grows. Results are ratios measured here, checked against named limits.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  createTestNamespace,
  cluster,
  deleteTestNamespace,
  kubeconfigPath,
  REPO_ROOT,
  sleep,
} from '../test/support/cluster.js';
import { createJob, getJob } from '../test/support/jobs.js';
import { makeJob } from '../test/support/jobbuilder.js';

/** The operator may take at most this much longer than the Job controller for the same fan-out. */
export const MAX_TIME_RATIO_VS_INDEXED_JOB = 1.5;
/** Peak memory may grow at most this much from the small job to the one with 10x the items. */
export const MAX_MEMORY_GROWTH_FOR_10X_ITEMS = 2.0;

interface Workload {
  items: number;
  parallelism: number;
  duration: string;
}

const SMALL: Workload = { items: 200, parallelism: 20, duration: '500ms' };
const LARGE: Workload = { items: 2000, parallelism: 100, duration: '200ms' };
const TIMEOUT_MS = 15 * 60_000;

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function runIndexedJob(w: Workload): Promise<number> {
  const ns = await createTestNamespace('bench-job');
  try {
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
    await until('the Indexed Job', async () => {
      const j = await cluster().batch.readNamespacedJob({ namespace: ns, name: 'indexed' });
      return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') ?? false;
    });
    return (Date.now() - started) / 1000;
  } finally {
    await deleteTestNamespace(ns);
  }
}

/** Runs the workload through a fresh operator process; returns seconds to Succeeded and its peak RSS. */
async function runMapReduceJob(w: Workload): Promise<{ seconds: number; peakMb: number }> {
  const ns = await createTestNamespace('bench-mrj');
  const proc = spawn(
    process.execPath,
    [
      // BENCH_NODE_OPTIONS, e.g. --max-old-space-size=128, to see how much of the peak is collectable garbage.
      ...(process.env.BENCH_NODE_OPTIONS ?? '').split(' ').filter(Boolean),
      path.join(REPO_ROOT, 'dist', 'main.js'),
      `--kubeconfig=${kubeconfigPath()}`,
      `--namespace=${ns}`,
      '--health-port=0',
      '--metrics-port=0',
      '--log-level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  try {
    await sleep(1500); // informers synced
    const started = Date.now();
    await createJob(
      ns,
      makeJob('bench')
        .items(Array.from({ length: w.items }, (_, i) => i))
        .parallelism(w.parallelism)
        .mapAnnotation('sim.mapreduce.dev/duration', w.duration)
        .obj(),
    );
    await until('the MapReduceJob', async () => (await getJob(ns, 'bench')).status?.phase === 'Succeeded');
    const seconds = (Date.now() - started) / 1000;
    return { seconds, peakMb: peakRssMb(proc.pid!) };
  } finally {
    proc.kill('SIGKILL');
    await deleteTestNamespace(ns);
  }
}

function row(...cells: (string | number)[]): string {
  return cells.map((c, i) => String(c).padEnd(i === 0 ? 44 : 12)).join('');
}

async function main(): Promise<void> {
  console.log(
    `workloads: small ${JSON.stringify(SMALL)}, large ${JSON.stringify(LARGE)} (pods simulated by kwok)\n`,
  );
  const indexed = await runIndexedJob(SMALL);
  const small = await runMapReduceJob(SMALL);
  const large = await runMapReduceJob(LARGE);
  const timeRatio = small.seconds / indexed;
  const memoryGrowth = large.peakMb / small.peakMb;
  console.log(row('measure', 'value'));
  console.log(row(`Indexed Job, ${SMALL.items} items`, `${indexed.toFixed(1)} s`));
  console.log(
    row(
      `MapReduceJob, ${SMALL.items} items`,
      `${small.seconds.toFixed(1)} s`,
      `${small.peakMb.toFixed(0)} MB peak RSS`,
    ),
  );
  console.log(
    row(
      `MapReduceJob, ${LARGE.items} items`,
      `${large.seconds.toFixed(1)} s`,
      `${large.peakMb.toFixed(0)} MB peak RSS`,
    ),
  );
  console.log(
    row(
      `MapReduceJob throughput, ${LARGE.items} items`,
      `${(LARGE.items / large.seconds).toFixed(1)} items/s`,
    ),
  );
  console.log();
  const checks = [
    {
      name: 'time vs Indexed Job (same items, parallelism)',
      value: timeRatio,
      limit: MAX_TIME_RATIO_VS_INDEXED_JOB,
    },
    {
      name: `peak memory growth, ${LARGE.items / SMALL.items}x items`,
      value: memoryGrowth,
      limit: MAX_MEMORY_GROWTH_FOR_10X_ITEMS,
    },
  ];
  let ok = true;
  for (const c of checks) {
    const pass = c.value <= c.limit;
    ok &&= pass;
    console.log(row(c.name, `${c.value.toFixed(2)}x`, `limit ${c.limit}x`, pass ? 'ok' : 'OVER'));
  }
  process.exitCode = ok ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
