// Reading and waiting on MapReduceJobs and their objects in integration tests.
import type { CoreV1Event, V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import { LABEL_JOB_NAME } from '../../src/api/constants.js';
import { GROUP, PLURAL, VERSION } from '../../src/api/types.js';
import type { JobPhase, MapReduceJob } from '../../src/api/types.js';
import { cluster, waitFor } from './cluster.js';

export async function createJob(namespace: string, job: MapReduceJob): Promise<MapReduceJob> {
  return (await cluster().custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    body: job,
  })) as MapReduceJob;
}

export async function getJob(namespace: string, name: string): Promise<MapReduceJob> {
  return (await cluster().custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    name,
  })) as MapReduceJob;
}

export async function patchJobSpec(
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<void> {
  const { setHeaderOptions, PatchStrategy } = await import('@kubernetes/client-node');
  await cluster().custom.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { spec } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

export async function deleteJob(namespace: string, name: string): Promise<void> {
  await cluster().custom.deleteNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    name,
  });
}

export async function waitForPhase(
  namespace: string,
  name: string,
  phases: JobPhase[],
  timeoutMs?: number,
): Promise<MapReduceJob> {
  return waitFor(
    `job ${namespace}/${name} to reach ${phases.join(' or ')}`,
    async () => {
      const job = await getJob(namespace, name);
      return job.status?.phase && phases.includes(job.status.phase) ? job : undefined;
    },
    timeoutMs,
  );
}

export async function jobPods(namespace: string, name: string): Promise<V1Pod[]> {
  return (await cluster().core.listNamespacedPod({ namespace, labelSelector: `${LABEL_JOB_NAME}=${name}` }))
    .items;
}

export async function jobConfigMaps(
  namespace: string,
  name: string,
  store: 'items' | 'results',
): Promise<V1ConfigMap[]> {
  return (
    await cluster().core.listNamespacedConfigMap({
      namespace,
      labelSelector: `${LABEL_JOB_NAME}=${name},mapreduce.dev/store=${store}`,
    })
  ).items;
}

/** All results of a job, by item index. */
export async function jobResults(namespace: string, name: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const cm of await jobConfigMaps(namespace, name, 'results')) Object.assign(out, cm.data ?? {});
  return out;
}

export async function jobEvents(namespace: string, name: string): Promise<CoreV1Event[]> {
  return (
    await cluster().core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` })
  ).items;
}

/** The job's Events once one has `reason`: Events are written just after the status write a test waits for. */
export async function waitForEvent(namespace: string, name: string, reason: string): Promise<CoreV1Event[]> {
  return waitFor(`a ${reason} event on ${name}`, async () => {
    const events = await jobEvents(namespace, name);
    return events.some((e) => e.reason === reason) ? events : undefined;
  });
}

/** Watches a namespace's pods and keeps every name and UID it sees, and the most pods active at once. */
export class PodWatcher {
  readonly uidsByName = new Map<string, Set<string>>();
  maxActive = 0;
  private readonly active = new Set<string>();
  private abort: (() => void) | undefined;

  async start(namespace: string): Promise<void> {
    const { Watch } = await import('@kubernetes/client-node');
    const watch = new Watch(cluster().kc);
    const req = await watch.watch(
      `/api/v1/namespaces/${namespace}/pods`,
      {},
      (type: string, pod: V1Pod) => this.observe(type, pod),
      () => undefined,
    );
    this.abort = () => req.abort();
  }

  private observe(type: string, pod: V1Pod): void {
    const name = pod.metadata?.name ?? '';
    const uids = this.uidsByName.get(name) ?? new Set<string>();
    uids.add(pod.metadata?.uid ?? '');
    this.uidsByName.set(name, uids);
    const phase = pod.status?.phase;
    if (type !== 'DELETED' && (phase === 'Pending' || phase === 'Running' || phase === undefined))
      this.active.add(name);
    else this.active.delete(name);
    this.maxActive = Math.max(this.maxActive, this.active.size);
  }

  /** Pod names that were created more than once (a duplicate attempt). */
  duplicates(): string[] {
    return [...this.uidsByName.entries()].filter(([, uids]) => uids.size > 1).map(([name]) => name);
  }

  stop(): void {
    this.abort?.();
  }
}
