// Builds the pods of a job from its templates. Pure. The one place a pod's env is assembled:
// telemetry adds its variables through `extraEnv`, and a variable the user set always wins.
import type { V1Container, V1EnvVar, V1Pod, V1PodTemplateSpec, V1Volume } from '@kubernetes/client-node';
import {
  ENV_ATTEMPT,
  ENV_FAILED_ITEMS,
  ENV_ITEM,
  ENV_ITEM_FILE,
  ENV_ITEM_ID,
  ENV_ITEM_INDEX,
  ENV_JOB_NAME,
  ENV_RESULTS_DIR,
  ENV_SUCCEEDED_ITEMS,
  ENV_TOTAL_ITEMS,
  FINALIZER_TRACKING,
  ITEM_FILE_NAME,
  ITEM_MOUNT_DIR,
  LABEL_ATTEMPT,
  LABEL_ITEM_INDEX,
  LABEL_JOB_NAME,
  LABEL_PHASE,
  PHASE_MAP,
  PHASE_REDUCE,
  RESULTS_MOUNT_DIR,
} from '../api/constants.js';
import type { MapReduceJob } from '../api/types.js';
import { agentPodName, reducePodName } from './naming.js';
import { ownerReference } from './ownership.js';

/** Items larger than this are mounted as a file instead of an env var: env vars share the 1 MiB ARG_MAX budget. */
export const MAX_ITEM_ENV_BYTES = 32 * 1024;
const ITEM_VOLUME = 'mapreduce-item';
const RESULTS_VOLUME = 'mapreduce-results';

export interface AgentPodInput {
  job: MapReduceJob;
  index: number;
  id: string;
  /** The item as JSON text. */
  itemJSON: string;
  attempt: number;
  /** The items-snapshot ConfigMap holding this item (key = index), mounted when the item is large. */
  itemsConfigMap: string;
  extraEnv?: V1EnvVar[];
  extraAnnotations?: Record<string, string>;
}

export interface ReducePodInput {
  job: MapReduceJob;
  attempt: number;
  totalItems: number;
  succeededItems: number;
  failedItems: number;
  /** Names of the results ConfigMaps, all mounted into one directory. */
  resultsConfigMaps: string[];
  extraEnv?: V1EnvVar[];
  extraAnnotations?: Record<string, string>;
}

/** The OpenTelemetry SDKs' resource variable: merged, not replaced (see withEnv). */
const ENV_RESOURCE_ATTRIBUTES = 'OTEL_RESOURCE_ATTRIBUTES';

/**
 * Adds env vars to a container; a variable the user already set is never overridden, but for
 * OTEL_RESOURCE_ATTRIBUTES: the operator's list comes first, then k8s.container.name, then the container's
 * own list (with a plain value), so the SDK's last-wins parsing lets the user's entries win.
 */
export function withEnv(container: V1Container, env: V1EnvVar[]): V1Container {
  const own = container.env ?? [];
  const userSet = new Set(own.map((e) => e.name));
  const added = env.filter((e) => !userSet.has(e.name));
  const ours = env.find((e) => e.name === ENV_RESOURCE_ATTRIBUTES && e.value !== undefined);
  if (!ours) return { ...container, env: [...own, ...added] };
  const theirs = own.find((e) => e.name === ENV_RESOURCE_ATTRIBUTES);
  if (theirs && theirs.value === undefined) return { ...container, env: [...own, ...added] }; // valueFrom: theirs
  const merged = [ours.value, `k8s.container.name=${container.name}`, theirs?.value]
    .filter((v) => v !== undefined && v !== '')
    .join(',');
  const resource: V1EnvVar = { name: ENV_RESOURCE_ATTRIBUTES, value: merged };
  return {
    ...container,
    env: [
      ...own.filter((e) => e.name !== ENV_RESOURCE_ATTRIBUTES),
      ...added.filter((e) => e.name !== ENV_RESOURCE_ATTRIBUTES),
      resource,
    ],
  };
}

function basePod(
  job: MapReduceJob,
  template: V1PodTemplateSpec,
  name: string,
  labels: Record<string, string>,
  annotations: Record<string, string> | undefined,
): V1Pod {
  const t = structuredClone(template);
  const spec = t.spec!;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: job.metadata.namespace,
      labels: { ...(t.metadata?.labels ?? {}), ...labels },
      annotations: { ...(t.metadata?.annotations ?? {}), ...(annotations ?? {}) },
      ownerReferences: [ownerReference(job)],
      finalizers: [FINALIZER_TRACKING],
    },
    spec: {
      ...spec,
      restartPolicy: 'Never',
      containers: spec.containers.map((c, i) =>
        // The main (first) container's termination message is the result; logs stand in when it crashes.
        i === 0 && c.terminationMessagePolicy === undefined
          ? { ...c, terminationMessagePolicy: 'FallbackToLogsOnError' }
          : c,
      ),
    },
  };
}

export function buildAgentPod(input: AgentPodInput): V1Pod {
  const { job, index, attempt } = input;
  const jobName = job.metadata.name!;
  const pod = basePod(
    job,
    job.spec.map.template,
    agentPodName(jobName, index, attempt),
    {
      [LABEL_JOB_NAME]: jobName,
      [LABEL_PHASE]: PHASE_MAP,
      [LABEL_ITEM_INDEX]: String(index),
      [LABEL_ATTEMPT]: String(attempt),
    },
    input.extraAnnotations,
  );
  const spec = pod.spec!;
  if (job.spec.map.activeDeadlineSeconds !== undefined)
    spec.activeDeadlineSeconds = job.spec.map.activeDeadlineSeconds;
  const env: V1EnvVar[] = [
    { name: ENV_JOB_NAME, value: jobName },
    { name: ENV_ITEM_INDEX, value: String(index) },
    { name: ENV_ITEM_ID, value: input.id },
    { name: ENV_ATTEMPT, value: String(attempt) },
  ];
  const large = Buffer.byteLength(input.itemJSON, 'utf8') > MAX_ITEM_ENV_BYTES;
  if (large) {
    env.push({ name: ENV_ITEM_FILE, value: `${ITEM_MOUNT_DIR}/${ITEM_FILE_NAME}` });
    const volume: V1Volume = {
      name: ITEM_VOLUME,
      configMap: { name: input.itemsConfigMap, items: [{ key: String(index), path: ITEM_FILE_NAME }] },
    };
    spec.volumes = [...(spec.volumes ?? []), volume];
  } else {
    env.push({ name: ENV_ITEM, value: input.itemJSON });
  }
  env.push(...(input.extraEnv ?? []));
  spec.containers = spec.containers.map((c) => {
    const withVars = withEnv(c, env);
    if (!large) return withVars;
    return {
      ...withVars,
      volumeMounts: [
        ...(c.volumeMounts ?? []),
        { name: ITEM_VOLUME, mountPath: ITEM_MOUNT_DIR, readOnly: true },
      ],
    };
  });
  return pod;
}

export function buildReducePod(input: ReducePodInput): V1Pod {
  const { job, attempt } = input;
  const jobName = job.metadata.name!;
  const template = job.spec.reduce!.template;
  const pod = basePod(
    job,
    template,
    reducePodName(jobName, attempt),
    { [LABEL_JOB_NAME]: jobName, [LABEL_PHASE]: PHASE_REDUCE, [LABEL_ATTEMPT]: String(attempt) },
    input.extraAnnotations,
  );
  const spec = pod.spec!;
  if (job.spec.reduce!.activeDeadlineSeconds !== undefined)
    spec.activeDeadlineSeconds = job.spec.reduce!.activeDeadlineSeconds;
  spec.volumes = [
    ...(spec.volumes ?? []),
    {
      name: RESULTS_VOLUME,
      projected: {
        // optional: a piece removed by hand is a missing result, not a pod that can never start.
        sources: input.resultsConfigMaps.map((name) => ({ configMap: { name, optional: true } })),
      },
    },
  ];
  const env: V1EnvVar[] = [
    { name: ENV_JOB_NAME, value: jobName },
    { name: ENV_ATTEMPT, value: String(attempt) },
    { name: ENV_RESULTS_DIR, value: RESULTS_MOUNT_DIR },
    { name: ENV_TOTAL_ITEMS, value: String(input.totalItems) },
    { name: ENV_SUCCEEDED_ITEMS, value: String(input.succeededItems) },
    { name: ENV_FAILED_ITEMS, value: String(input.failedItems) },
    ...(input.extraEnv ?? []),
  ];
  spec.containers = spec.containers.map((c) => ({
    ...withEnv(c, env),
    volumeMounts: [
      ...(c.volumeMounts ?? []),
      { name: RESULTS_VOLUME, mountPath: RESULTS_MOUNT_DIR, readOnly: true },
    ],
  }));
  return pod;
}
