// Tracing as controller hooks: each job is one trace whose span ids derive from the job's uid (ids.ts), whose
// sampling decision and phase times are kept in its status (tracestate.ts), whose pods carry their attempt's
// span context (podenv.ts), and whose spans are exported when their end is recorded (phasespans.ts), with the
// times the cluster recorded. Nothing lives only in this process's memory.
import type { Resource } from '@opentelemetry/resources';
import type { MapReduceJob, MapReduceJobStatus } from '../api/types.js';
import type { ControllerHooks, PodDecorations, ReconcileRecord } from '../controller/hooks.js';
import type { PodToCreate } from '../controller/jobstate.js';
import type { DurableSpanExporter } from './exporter.js';
import { Attr } from './names.js';
import { spansToExport } from './phasespans.js';
import { traceContextForPod } from './podenv.js';
import { jobTraceOf } from './spans.js';
import { traceIdsOf, tracedStatus, updateTraceStatus } from './tracestate.js';

export interface TracingOptions {
  exporter: DurableSpanExporter;
  /** Resolves to the operator's resource (detection runs in the background). */
  resource: Promise<Resource>;
  version: string;
  defaultRatio: number;
  clusterName?: string;
}

export class TracingHooks implements ControllerHooks {
  /** k8s.cluster.uid, once resource detection has it (before the controller starts: main awaits it). */
  private clusterUid: string | undefined;

  constructor(private readonly options: TracingOptions) {
    options.resource.then(
      (r) => {
        const uid = r.attributes[Attr.K8sClusterUid];
        if (typeof uid === 'string') this.clusterUid = uid;
      },
      () => undefined, // detection failures are the resource's business; pods then go without the uid
    );
  }

  decorateStatus(r: ReconcileRecord): void {
    updateTraceStatus(r, this.options.defaultRatio);
  }

  decoratePod(job: MapReduceJob, status: MapReduceJobStatus, target: PodToCreate): PodDecorations {
    return traceContextForPod(job, status, target, {
      name: this.options.clusterName,
      uid: this.clusterUid,
    });
  }

  async recordFinished(r: ReconcileRecord): Promise<void> {
    const traced = tracedStatus(r.status);
    if (!traced || !traced.sampled) return;
    const env = { resource: await this.options.resource, version: this.options.version };
    const spans = spansToExport(jobTraceOf(r.job, traced), env, r.job, r.status, r.finished, r.itemId, r.now);
    if (spans.length > 0) await this.options.exporter.export(spans);
  }

  attemptsStarted(): void {}

  statusWritten(): void {}

  reconciled(): void {}

  logFields(job: MapReduceJob): Record<string, string> {
    const ids = traceIdsOf(job);
    return ids ? { trace_id: ids.traceId, span_id: ids.spanId } : {};
  }
}
