// Kubernetes Events on a job (what `kubectl describe mrj` shows). Best effort: a failed Event write is
// logged and never fails a reconcile.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { API_VERSION, KIND } from '../api/types.js';
import type { MapReduceJob } from '../api/types.js';
import type { CoreClient } from './clients.js';
import type { JobEvent } from './jobstate.js';

export const REPORTING_COMPONENT = 'mapreduce-operator';

export interface EventRecorder {
  record(job: MapReduceJob, event: JobEvent): Promise<void>;
}

export class KubernetesEventRecorder implements EventRecorder {
  constructor(
    private readonly core: Pick<CoreClient, 'createNamespacedEvent'>,
    private readonly log: Logger,
    private readonly instance: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async record(job: MapReduceJob, event: JobEvent): Promise<void> {
    const now = this.clock();
    const namespace = job.metadata.namespace!;
    try {
      await this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { name: `${job.metadata.name}.${randomBytes(8).toString('hex')}`, namespace },
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
    } catch (err) {
      this.log.warn({ err, reason: event.reason }, 'could not record event');
    }
  }
}
