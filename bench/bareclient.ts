// The API server's limit for a fan-out, as a bare client meets it (issue 14, "versus the API server's limit"):
// the same pods an Indexed Job or a MapReduceJob runs, created and deleted as fast as the cluster lets one
// client, `parallelism` of them live at a time, with nothing else: no finalizer, no status, no results, no
// rate limiter. Each slot creates a pod, waits for the watch to show it Succeeded, deletes it (no grace
// period: it has finished) and starts the next. Pods per second over the run is what a controller's pod
// throughput is measured against.
import { Watch } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import pLimit from 'p-limit';
import { cluster, createTestNamespace, deleteTestNamespace } from '../test/support/cluster.js';
import type { Workload } from './runs.js';

/**
 * API requests in flight at once. The API server's own default limit (--max-requests-inflight) is 400 for all
 * clients; 50 keeps this client one of many, as the operator's and the Job controller's pipelines are.
 */
export const BARE_CLIENT_MAX_REQUESTS_IN_FLIGHT = 50;

/** Longest wait for one pod to succeed: kwok runs it for the workload's duration, so this is only a stall guard. */
const POD_TIMEOUT_MS = 120_000;

export interface BareClientRun {
  /** First create to the last pod's delete answered. */
  seconds: number;
  pods: number;
  podsPerSecond: number;
  /** Pods still in the namespace at the end (0: every delete took). */
  left: number;
}

/** One pod as the Indexed Job's and the MapReduceJob's: busybox on a kwok node, running for the workload's duration. */
function barePod(name: string, w: Workload): V1Pod {
  return {
    metadata: { name, annotations: { 'sim.mapreduce.dev/duration': w.duration } },
    spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox' }] },
  };
}

export async function runBareClient(w: Workload): Promise<BareClientRun> {
  const ns = await createTestNamespace('bench-bare');
  const { core, kc } = cluster();
  /** Pods waited for: name → settle. */
  const waiting = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  let watchError: Error | undefined;
  const watch = await new Watch(kc).watch(
    `/api/v1/namespaces/${ns}/pods`,
    {},
    (_type: string, pod: V1Pod) => {
      const phase = pod.status?.phase;
      const name = pod.metadata?.name ?? '';
      if (phase === 'Succeeded') waiting.get(name)?.resolve();
      if (phase === 'Failed') waiting.get(name)?.reject(new Error(`bare client: pod ${name} failed`));
    },
    (err: unknown) => {
      // The watch ended (error or closed by the server) while pods were still awaited: the run cannot be trusted.
      watchError = new Error(`bare client: the pod watch ended: ${String(err)}`);
      for (const w of waiting.values()) w.reject(watchError);
    },
  );
  try {
    const limited = pLimit(BARE_CLIENT_MAX_REQUESTS_IN_FLIGHT);
    let next = 0;
    const slot = async (): Promise<void> => {
      while (next < w.items) {
        const name = `bare-${next++}`;
        const succeeded = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`bare client: pod ${name} did not succeed`)),
            POD_TIMEOUT_MS,
          );
          waiting.set(name, {
            resolve: () => (clearTimeout(timer), resolve()),
            reject: (err) => (clearTimeout(timer), reject(err)),
          });
        });
        if (watchError) throw watchError;
        await limited(() => core.createNamespacedPod({ namespace: ns, body: barePod(name, w) }));
        await succeeded;
        waiting.delete(name);
        await limited(() => core.deleteNamespacedPod({ namespace: ns, name, gracePeriodSeconds: 0 }));
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: w.parallelism }, slot));
    const seconds = (Date.now() - started) / 1000;
    const left = (await core.listNamespacedPod({ namespace: ns })).items.length;
    return { seconds, pods: w.items, podsPerSecond: w.items / seconds, left };
  } finally {
    watch.abort();
    await deleteTestNamespace(ns);
  }
}
