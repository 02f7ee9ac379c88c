// The operator's pods as the API server serves them to the informer: built by the operator's own pod builder
// (env with the item and trace context, finalizer, owner), plus what the API server, the scheduler and the
// kubelet add (uid, managedFields, defaults, the service account volume, node, conditions, full container
// statuses). Shapes copied from a pod served by the local control plane. servedMapPod(job, 3).succeeded('"r"').obj()
import type {
  V1ContainerState,
  V1ContainerStatus,
  V1ManagedFieldsEntry,
  V1Pod,
} from '@kubernetes/client-node';
import type { MapReduceJob, MapReduceJobStatus } from '../../src/api/types.js';
import { buildAgentPod, buildReducePod } from '../../src/controller/podbuilder.js';
import type { PodToCreate } from '../../src/controller/jobstate.js';
import { traceContextForPod } from '../../src/telemetry/podenv.js';
import { updateTraceStatus } from '../../src/telemetry/tracestate.js';
import { at, T0 } from './podstates.js';

/** The job as the API server has it (namespace, uid), traced, as a reconcile decorates its pods. */
export function servedJob(job: MapReduceJob, uid = '63797276-5b04-41c6-9609-8aecbb44fb13'): MapReduceJob {
  const served = structuredClone(job);
  served.metadata = { ...served.metadata, namespace: served.metadata.namespace ?? 'ns', uid, generation: 1 };
  const status: MapReduceJobStatus = {};
  updateTraceStatus({ job: served, status, finished: [], itemId: String, now: T0, events: [] }, 1);
  served.status = status;
  return served;
}

/** What the client (manager kubernetes-client-javascript) and the kubelet own, as the API server records it. */
export function managedFields(pod: V1Pod, updated: Date): V1ManagedFieldsEntry[] {
  const env = Object.fromEntries(
    (pod.spec?.containers[0]?.env ?? []).map((e) => [
      `k:{"name":"${e.name}"}`,
      { '.': {}, 'f:name': {}, [e.valueFrom ? 'f:valueFrom' : 'f:value']: {} },
    ]),
  );
  const keys = (o: Record<string, string> | undefined): Record<string, object> =>
    Object.fromEntries([['.', {}], ...Object.keys(o ?? {}).map((k): [string, object] => [`f:${k}`, {}])]);
  const condition = {
    '.': {},
    'f:lastProbeTime': {},
    'f:lastTransitionTime': {},
    'f:status': {},
    'f:type': {},
  };
  return [
    {
      apiVersion: 'v1',
      fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:metadata': {
          'f:annotations': keys(pod.metadata?.annotations),
          'f:finalizers': { '.': {}, 'v:"mapreduce.dev/tracking"': {} },
          'f:labels': keys(pod.metadata?.labels),
          'f:ownerReferences': { '.': {}, [`k:{"uid":"${pod.metadata?.ownerReferences?.[0]?.uid}"}`]: {} },
        },
        'f:spec': {
          'f:containers': {
            [`k:{"name":"${pod.spec?.containers[0]?.name}"}`]: {
              '.': {},
              'f:command': {},
              'f:env': { '.': {}, ...env },
              'f:image': {},
              'f:imagePullPolicy': {},
              'f:name': {},
              'f:resources': {},
              'f:terminationMessagePath': {},
              'f:terminationMessagePolicy': {},
            },
          },
          'f:dnsPolicy': {},
          'f:enableServiceLinks': {},
          'f:restartPolicy': {},
          'f:schedulerName': {},
          'f:securityContext': {},
          'f:terminationGracePeriodSeconds': {},
        },
      },
      manager: 'kubernetes-client-javascript',
      operation: 'Update',
      time: T0,
    },
    {
      apiVersion: 'v1',
      fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:status': {
          'f:conditions': {
            'k:{"type":"ContainersReady"}': { ...condition, 'f:message': {}, 'f:reason': {} },
            'k:{"type":"Initialized"}': condition,
            'k:{"type":"Ready"}': { ...condition, 'f:message': {}, 'f:reason': {} },
          },
          'f:containerStatuses': {},
          'f:hostIP': {},
          'f:phase': {},
          'f:podIP': {},
          'f:podIPs': { '.': {}, 'k:{"ip":"10.244.0.1"}': { '.': {}, 'f:ip': {} } },
          'f:startTime': {},
        },
      },
      manager: 'kwok',
      operation: 'Update',
      subresource: 'status',
      time: updated,
    },
  ];
}

export class ServedPodBuilder {
  private readonly pod: V1Pod;
  private readonly mainName: string;

  constructor(job: MapReduceJob, target: PodToCreate, itemJSON: string) {
    const decorations = traceContextForPod(job, job.status ?? {}, target);
    const built =
      target.phase === 'map'
        ? buildAgentPod({
            job,
            index: target.index,
            id: String(target.index),
            itemJSON,
            attempt: target.attempt,
            itemsConfigMap: `${job.metadata.name}-items-0`,
            extraEnv: decorations.env,
            extraAnnotations: decorations.annotations,
          })
        : buildReducePod({
            job,
            attempt: target.attempt,
            totalItems: 3,
            succeededItems: 3,
            failedItems: 0,
            resultsConfigMaps: [`${job.metadata.name}-results-0`],
            extraEnv: decorations.env,
            extraAnnotations: decorations.annotations,
          });
    const spec = built.spec!;
    this.mainName = spec.containers[0]!.name;
    const token = 'kube-api-access-2j8w4';
    this.pod = {
      ...built,
      metadata: {
        ...built.metadata,
        uid: `pod-uid-${built.metadata!.name}`,
        resourceVersion: '434',
        generation: 1,
        creationTimestamp: T0,
        managedFields: managedFields(built, T0),
      },
      spec: {
        ...spec,
        containers: spec.containers.map((c) => ({
          ...c,
          imagePullPolicy: 'IfNotPresent',
          resources: {},
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: c.terminationMessagePolicy ?? 'File',
          volumeMounts: [
            ...(c.volumeMounts ?? []),
            { mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', name: token, readOnly: true },
          ],
        })),
        dnsPolicy: 'ClusterFirst',
        enableServiceLinks: true,
        preemptionPolicy: 'PreemptLowerPriority',
        priority: 0,
        schedulerName: 'default-scheduler',
        securityContext: {},
        serviceAccount: 'default',
        serviceAccountName: 'default',
        terminationGracePeriodSeconds: 30,
        tolerations: ['not-ready', 'unreachable'].map((t) => ({
          effect: 'NoExecute',
          key: `node.kubernetes.io/${t}`,
          operator: 'Exists',
          tolerationSeconds: 300,
        })),
        volumes: [
          ...(spec.volumes ?? []),
          {
            name: token,
            projected: {
              defaultMode: 420,
              sources: [
                { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
                { configMap: { items: [{ key: 'ca.crt', path: 'ca.crt' }], name: 'kube-root-ca.crt' } },
                {
                  downwardAPI: {
                    items: [
                      { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' }, path: 'namespace' },
                    ],
                  },
                },
              ],
            },
          },
        ],
      },
      status: { phase: 'Pending', qosClass: 'BestEffort' },
    };
  }

  /** Bound to a node: PodScheduled. */
  scheduled(node = 'kwok-node-1', time = T0): this {
    this.pod.spec!.nodeName = node;
    this.pod.status!.conditions = [{ lastTransitionTime: time, status: 'True', type: 'PodScheduled' }];
    return this;
  }

  private containerStatus(name: string, state: V1ContainerState, running: boolean): V1ContainerStatus {
    const container = this.pod.spec!.containers.find((c) => c.name === name)!;
    return {
      containerID: `containerd://${name}-${this.pod.metadata!.uid}`,
      image: container.image!,
      imageID: `${container.image}@sha256:${'0'.repeat(64)}`,
      lastState: {},
      name,
      ready: running,
      restartCount: 0,
      started: running,
      state,
    };
  }

  /** What the kubelet writes with the main container in `state`: conditions, IPs and every container's status. */
  private kubeletStatus(phase: string, state: V1ContainerState, time: Date): this {
    if (!this.pod.spec!.nodeName) this.scheduled();
    const running = phase === 'Running';
    const ready = (type: string) => ({
      lastTransitionTime: time,
      status: running ? 'True' : 'False',
      type,
      ...(running ? {} : { reason: 'PodCompleted', message: 'containers with unready status' }),
    });
    const status = this.pod.status!;
    status.phase = phase;
    status.conditions = [
      ...(status.conditions ?? []).filter((c) => c.type === 'PodScheduled'),
      { lastTransitionTime: T0, status: 'True', type: 'Initialized' },
      ready('Ready'),
      ready('ContainersReady'),
    ];
    const others = (status.containerStatuses ?? []).filter((s) => s.name !== this.mainName);
    // The kubelet lists statuses sorted by name.
    status.containerStatuses = [...others, this.containerStatus(this.mainName, state, running)].sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    status.hostIP = '127.0.0.1';
    status.hostIPs = [{ ip: '127.0.0.1' }];
    status.podIP = '10.244.0.1';
    status.podIPs = [{ ip: '10.244.0.1' }];
    status.startTime = T0;
    this.pod.metadata!.managedFields = managedFields(this.pod, time);
    this.pod.metadata!.resourceVersion = String(Number(this.pod.metadata!.resourceVersion) + 1);
    return this;
  }

  running(startedAt = T0): this {
    return this.kubeletStatus('Running', { running: { startedAt } }, startedAt);
  }

  succeeded(message: string, finishedAt = at(1)): this {
    const terminated = { exitCode: 0, reason: 'Completed', message, startedAt: T0, finishedAt };
    return this.kubeletStatus('Succeeded', { terminated }, finishedAt);
  }

  failed(exitCode: number, reason = 'Error', finishedAt = at(1), message?: string): this {
    const terminated = { exitCode, reason, startedAt: T0, finishedAt, ...(message ? { message } : {}) };
    return this.kubeletStatus('Failed', { terminated }, finishedAt);
  }

  /** A kubelet's verdict on the whole pod (Evicted, DeadlineExceeded), with its message. */
  podReason(reason: string, message = 'The node was low on resource: memory.'): this {
    this.pod.status = { ...this.pod.status, reason, message };
    return this;
  }

  /** Failed as a whole before any container ran (say, evicted while pulling): no container status. */
  failedWithoutContainers(reason: string, time = at(1)): this {
    if (!this.pod.spec!.nodeName) this.scheduled();
    const status = this.pod.status!;
    status.phase = 'Failed';
    status.reason = reason;
    status.message = `pod failed: ${reason}`;
    status.conditions = [
      ...(status.conditions ?? []),
      { lastTransitionTime: time, status: 'False', type: 'Ready', reason: 'PodFailed' },
    ];
    return this;
  }

  /** A sidecar whose name sorts before the main container's, so its status is listed first. */
  sidecar(state: V1ContainerState, name = 'aaa-sidecar'): this {
    this.pod.spec!.containers.push({
      name,
      image: 'registry.example/sidecar:1',
      env: [{ name: 'X', value: 'y' }],
    });
    this.pod.status!.containerStatuses = [
      this.containerStatus(name, state, false),
      ...(this.pod.status!.containerStatuses ?? []),
    ];
    return this;
  }

  deleting(time: Date): this {
    this.pod.metadata!.deletionTimestamp = time;
    this.pod.metadata!.deletionGracePeriodSeconds = 30;
    return this;
  }

  /** Released from tracking: the finalizer is gone. */
  released(): this {
    this.pod.metadata!.finalizers = [];
    return this;
  }

  obj(): V1Pod {
    return structuredClone(this.pod);
  }

  /** As it arrives on a watch: plain JSON, timestamps as strings, nothing shared with other pods. */
  json(): V1Pod {
    return JSON.parse(JSON.stringify(this.pod)) as V1Pod;
  }
}

export function servedMapPod(
  job: MapReduceJob,
  index: number,
  attempt = 0,
  itemJSON?: string,
): ServedPodBuilder {
  return new ServedPodBuilder(
    job,
    { phase: 'map', index, attempt },
    itemJSON ?? JSON.stringify({ text: `item ${index}` }),
  );
}

export function servedReducePod(job: MapReduceJob, attempt = 0): ServedPodBuilder {
  return new ServedPodBuilder(job, { phase: 'reduce', attempt }, '');
}
