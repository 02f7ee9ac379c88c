// node --expose-gc --import tsx bench/podcache.ts [pods]: the pod informer cache's heap per pod, pods kept whole
// against pods kept as transformPod trims them. The pods are the operator's own (podbuilder, trace context env),
// finished, shaped after one the local control plane serves (its managedFields, defaults, status), parsed
// from JSON as the watch delivers them. Needs the local control plane with the CRDs (npm run cluster:up).
import { randomUUID } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import type { MapReduceJob, MapReduceJobStatus } from '../src/api/types.js';
import { buildAgentPod } from '../src/controller/podbuilder.js';
import { transformPod } from '../src/controller/podtransform.js';
import { traceContextForPod } from '../src/telemetry/podenv.js';
import { updateTraceStatus } from '../src/telemetry/tracestate.js';
import {
  cluster,
  createTestNamespace,
  deleteTestNamespace,
  kubectl,
  waitFor,
} from '../test/support/cluster.js';
import { createJob } from '../test/support/jobs.js';
import { makeJob } from '../test/support/jobbuilder.js';

const PODS = Number(process.argv[2] ?? 2000);

/** An item and its result as a word count over web pages has them. */
const item = (i: number): string =>
  JSON.stringify({ url: `https://docs.example.com/guide/chapter-${i}/page-${i % 97}.html`, lang: 'en' });
const result = (i: number): string =>
  JSON.stringify({
    words: 500 + i,
    top: [
      ['the', 41],
      ['of', 23],
      ['and', 19],
    ],
  });

function tracedJob(job: MapReduceJob): MapReduceJob {
  const status: MapReduceJobStatus = {};
  updateTraceStatus({ job, status, finished: [], itemId: String, now: new Date(), events: [] }, 1);
  return { ...job, status };
}

function agentPod(job: MapReduceJob, index: number): V1Pod {
  const decorations = traceContextForPod(job, job.status!, { phase: 'map', index, attempt: 0 });
  return buildAgentPod({
    job,
    index,
    id: String(index),
    itemJSON: item(index),
    attempt: 0,
    itemsConfigMap: `${job.metadata.name}-items-0`,
    extraEnv: decorations.env,
    extraAnnotations: decorations.annotations,
  });
}

/** One of the operator's pods, run to completion by the local control plane, as the API server serves it. */
async function servedPod(): Promise<{ job: MapReduceJob; pod: V1Pod }> {
  const ns = await createTestNamespace('bench-pod');
  try {
    const job = tracedJob(
      await createJob(
        ns,
        makeJob('wc', ns)
          .items([item(0)])
          .obj(),
      ),
    );
    const pod = agentPod(job, 0);
    const name = pod.metadata!.name!;
    await cluster().core.createNamespacedPod({ namespace: ns, body: pod });
    await waitFor('the pod to finish', async () => {
      const p = await cluster().core.readNamespacedPod({ namespace: ns, name });
      return p.status?.phase === 'Succeeded';
    });
    const served = JSON.parse(
      kubectl('get', 'pod', '-n', ns, name, '-o', 'json', '--show-managed-fields'),
    ) as V1Pod;
    kubectl(
      'patch',
      'pod',
      '-n',
      ns,
      name,
      '--type=json',
      '-p',
      '[{"op":"remove","path":"/metadata/finalizers"}]',
    );
    return { job, pod: served };
  } finally {
    await deleteTestNamespace(ns);
  }
}

/** Pod `index` of the job, as served: the served pod with this pod's name, uid, item, trace context and result. */
function podJSON(job: MapReduceJob, served: V1Pod, index: number): string {
  const built = agentPod(job, index);
  const pod = structuredClone(served);
  pod.metadata = {
    ...pod.metadata,
    name: built.metadata!.name,
    uid: randomUUID(),
    resourceVersion: String(1000 + index),
    labels: built.metadata!.labels,
    annotations: built.metadata!.annotations,
  };
  pod.spec!.containers[0]!.env = built.spec!.containers[0]!.env;
  pod.status!.containerStatuses![0]!.state!.terminated!.message = result(index);
  return JSON.stringify(pod);
}

function heapUsed(): number {
  for (let i = 0; i < 3; i++) globalThis.gc!();
  return process.memoryUsage().heapUsed;
}

/** Heap bytes per pod held by `fill`'s cache. */
function bytesPerPod(lines: string[], fill: (line: string) => V1Pod): number {
  const before = heapUsed();
  const cache = lines.map(fill);
  const after = heapUsed();
  if (cache.length !== lines.length) throw new Error('unreachable');
  return Math.round((after - before) / lines.length);
}

async function main(): Promise<void> {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  const { job, pod } = await servedPod();
  const lines = Array.from({ length: PODS }, (_, i) => podJSON(job, pod, i));
  const watched = (line: string): V1Pod => JSON.parse(line) as V1Pod;
  const rows: [string, number][] = [
    ['whole', bytesPerPod(lines, watched)],
    ['transformPod', bytesPerPod(lines, (l) => transformPod(watched(l)))],
  ];
  const avgJSON = Math.round(lines.reduce((n, l) => n + l.length, 0) / lines.length);
  console.log(
    `${PODS} finished agent pods, ${avgJSON} bytes of JSON each (managedFields from the local control plane)`,
  );
  for (const [name, bytes] of rows)
    console.log(`${name.padEnd(16)}${String(bytes).padStart(7)} heap bytes/pod`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
