// Builders for the operator's pods in the states a reconcile sees them, for pure unit tests.
import type { V1Pod } from '@kubernetes/client-node';
import { LABEL_ATTEMPT, LABEL_ITEM_INDEX, LABEL_JOB_NAME, LABEL_PHASE } from '../../src/api/constants.js';

export const T0 = new Date('2026-01-01T00:00:00Z');

export function at(seconds: number): Date {
  return new Date(T0.getTime() + seconds * 1000);
}

export class AgentPodBuilder {
  private readonly pod: V1Pod;

  constructor(job: string, phase: 'map' | 'reduce', index: number, attempt: number) {
    const labels: Record<string, string> = {
      [LABEL_JOB_NAME]: job,
      [LABEL_PHASE]: phase,
      [LABEL_ATTEMPT]: String(attempt),
    };
    if (phase === 'map') labels[LABEL_ITEM_INDEX] = String(index);
    this.pod = {
      metadata: {
        name: phase === 'map' ? `${job}-${index}-${attempt}` : `${job}-reduce-${attempt}`,
        namespace: 'ns',
        labels,
        creationTimestamp: T0,
      },
      spec: { containers: [{ name: 'agent' }] },
      status: { phase: 'Pending' },
    };
  }

  running(): this {
    this.pod.status = {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'agent',
          image: 'x',
          imageID: '',
          ready: true,
          restartCount: 0,
          state: { running: { startedAt: T0 } },
        },
      ],
    };
    return this;
  }

  succeeded(message: string, finishedAt = at(1)): this {
    this.pod.status = {
      phase: 'Succeeded',
      containerStatuses: [
        {
          name: 'agent',
          image: 'x',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: 0, reason: 'Completed', message, finishedAt } },
        },
      ],
    };
    return this;
  }

  failed(exitCode: number, reason = 'Error', finishedAt = at(1), message?: string): this {
    this.pod.status = {
      phase: 'Failed',
      containerStatuses: [
        {
          name: 'agent',
          image: 'x',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode, reason, finishedAt, ...(message ? { message } : {}) } },
        },
      ],
    };
    return this;
  }

  /** Bound to a node by the scheduler (still Pending until the kubelet runs it). */
  scheduled(node = 'node-1'): this {
    this.pod.spec = { ...this.pod.spec!, nodeName: node };
    this.pod.status = {
      ...this.pod.status,
      conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: T0 }],
    };
    return this;
  }

  /** Carries the operator's tracking finalizer, as every pod it creates does. */
  tracked(): this {
    this.pod.metadata!.finalizers = ['mapreduce.dev/tracking'];
    return this;
  }

  /** Deleted by someone at this time; a finalizer keeps it readable. */
  deleting(at: Date): this {
    this.pod.metadata!.deletionTimestamp = at;
    return this;
  }

  annotate(key: string, value: string): this {
    this.pod.metadata!.annotations = { ...this.pod.metadata!.annotations, [key]: value };
    return this;
  }

  podReason(reason: string): this {
    this.pod.status = { ...this.pod.status, reason };
    return this;
  }

  obj(): V1Pod {
    return structuredClone(this.pod);
  }
}

export function mapPod(index: number, attempt = 0, job = 'wc'): AgentPodBuilder {
  return new AgentPodBuilder(job, 'map', index, attempt);
}

export function reducePod(attempt = 0, job = 'wc'): AgentPodBuilder {
  return new AgentPodBuilder(job, 'reduce', -1, attempt);
}
