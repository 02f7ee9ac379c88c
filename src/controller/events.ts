// Kubernetes Events on a job (what `kubectl describe mrj` shows). Best effort: a failed Event write is
// logged and never fails a reconcile. As client-go's event correlator does, an Event repeated within
// EVENT_AGGREGATION_WINDOW_MS bumps the count of the first instead of writing a new object, so a job failing
// the same way on every retry cannot flood etcd.
import { randomBytes } from 'node:crypto';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION, KIND } from '../api/types.js';
import type { MapReduceJob } from '../api/types.js';
import type { CoreClient } from './clients.js';
import type { JobEvent } from './jobstate.js';

export const REPORTING_COMPONENT = 'mapreduce-operator';
/** client-go's aggregation window: the same Event within it is counted, not written again. */
export const EVENT_AGGREGATION_WINDOW_MS = 10 * 60 * 1000;
/** Distinct Events remembered for aggregation; the oldest is forgotten first. Bounds the operator's memory. */
export const MAX_REMEMBERED_EVENTS = 4096;

interface Seen {
  name: string;
  count: number;
  firstAt: number;
}

export interface EventRecorder {
  record(job: MapReduceJob, event: JobEvent): Promise<void>;
}

export class KubernetesEventRecorder implements EventRecorder {
  constructor(
    private readonly core: Pick<CoreClient, 'createNamespacedEvent' | 'patchNamespacedEvent'>,
    private readonly log: Logger,
    private readonly instance: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private readonly seen = new Map<string, Seen>();

  async record(job: MapReduceJob, event: JobEvent): Promise<void> {
    const now = this.clock();
    const namespace = job.metadata.namespace!;
    const key = JSON.stringify([job.metadata.uid, event.type, event.reason, event.message]);
    const earlier = this.seen.get(key);
    if (earlier && now.getTime() - earlier.firstAt < EVENT_AGGREGATION_WINDOW_MS) {
      try {
        await this.core.patchNamespacedEvent(
          { namespace, name: earlier.name, body: { count: earlier.count + 1, lastTimestamp: now } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        earlier.count++;
        return;
      } catch (err) {
        this.log.debug({ err, reason: event.reason }, 'could not update event; writing a new one');
      }
    }
    const name = `${job.metadata.name}.${randomBytes(8).toString('hex')}`;
    try {
      await this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { name, namespace },
          involvedObject: {
            apiVersion: API_VERSION,
            kind: KIND,
            name: job.metadata.name,
            namespace,
            uid: job.metadata.uid,
            resourceVersion: job.metadata.resourceVersion,
          },
          type: event.type,
          reason: event.reason,
          message: event.message,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
          reportingComponent: REPORTING_COMPONENT,
          reportingInstance: this.instance,
          source: { component: REPORTING_COMPONENT },
        },
      });
      this.remember(key, { name, count: 1, firstAt: now.getTime() });
    } catch (err) {
      this.log.warn({ err, reason: event.reason }, 'could not record event');
    }
  }

  private remember(key: string, seen: Seen): void {
    this.seen.delete(key);
    this.seen.set(key, seen);
    if (this.seen.size > MAX_REMEMBERED_EVENTS) this.seen.delete(this.seen.keys().next().value!);
  }
}
