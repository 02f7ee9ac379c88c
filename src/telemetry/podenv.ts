// What a pod gets to nest its own spans under its attempt's span: TRACEPARENT, TRACESTATE and BAGGAGE (per
// "Environment Variables as Context Propagation Carriers"), OTEL_RESOURCE_ATTRIBUTES naming the pod, and the
// traceparent as an annotation, all written before the pod exists.
import { propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { TextMapPropagator } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { EnvironmentSetter } from '@opentelemetry/propagator-env-carrier';
import type { V1EnvVar } from '@kubernetes/client-node';
import { PHASE_MAP } from '../api/constants.js';
import type { MapReduceJob, MapReduceJobStatus } from '../api/types.js';
import type { PodDecorations } from '../controller/hooks.js';
import type { PodToCreate } from '../controller/jobstate.js';
import {
  ANNOTATION_POD_TRACEPARENT,
  Attr,
  ENV_NODE_NAME,
  ENV_OTEL_RESOURCE_ATTRIBUTES,
  ENV_POD_NAME,
  ENV_POD_UID,
} from './names.js';
import { baggageOf } from './baggage.js';
import { agentSpanContext, jobTraceOf } from './spans.js';
import { formatTraceparent } from './traceparent.js';
import { tracedStatus } from './tracestate.js';

/** The default of OTEL_PROPAGATORS, until the SDK's own propagator is given (usePodPropagator). */
export const DEFAULT_POD_PROPAGATOR: TextMapPropagator = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
});
let propagator = DEFAULT_POD_PROPAGATOR;

/** Pods get what this propagator injects: the operator wires in the one the SDK made from OTEL_PROPAGATORS. */
export function usePodPropagator(p: TextMapPropagator): void {
  propagator = p;
}

/** The trace context env and annotation of the pod about to be created for `target`; none before tracing chose. */
export function traceContextForPod(
  job: MapReduceJob,
  status: MapReduceJobStatus,
  target: PodToCreate,
  cluster: { name?: string | undefined; uid?: string | undefined } = {},
): PodDecorations {
  const traced = tracedStatus(status);
  if (!traced) return { env: [], annotations: {} };
  const jt = jobTraceOf(job, traced);
  const index = target.phase === PHASE_MAP ? target.index : -1;
  const sc = agentSpanContext(jt, { phase: target.phase, index, attempt: target.attempt });
  const carrier: Record<string, string> = {};
  const entries = baggageOf(job, target).kept;
  const ctx = propagation.setBaggage(
    trace.setSpanContext(ROOT_CONTEXT, sc),
    propagation.createBaggage(entries),
  );
  propagator.inject(ctx, undefined, new EnvironmentSetter(carrier));
  // Values are percent-encoded, as OTEL_RESOURCE_ATTRIBUTES requires; $(VAR) refs are names (DNS-safe).
  // service.name defaults to the job's name; the container's own OTEL_RESOURCE_ATTRIBUTES, appended by the
  // pod builder, and OTEL_SERVICE_NAME override it, and k8s.container.name is added per container there.
  const resourceAttributes = [
    `${Attr.ServiceName}=${encodeURIComponent(job.metadata.name!)}`,
    `${Attr.K8sNamespace}=${encodeURIComponent(job.metadata.namespace!)}`,
    `${Attr.K8sPodName}=$(${ENV_POD_NAME})`,
    `${Attr.K8sPodUid}=$(${ENV_POD_UID})`,
    `${Attr.K8sNodeName}=$(${ENV_NODE_NAME})`,
    ...(cluster.name ? [`${Attr.K8sClusterName}=${encodeURIComponent(cluster.name)}`] : []),
    ...(cluster.uid ? [`${Attr.K8sClusterUid}=${encodeURIComponent(cluster.uid)}`] : []),
  ].join(',');
  const env: V1EnvVar[] = [
    ...Object.entries(carrier).map(([name, value]) => ({ name, value })),
    { name: ENV_POD_NAME, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: ENV_POD_UID, valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
    { name: ENV_NODE_NAME, valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
    { name: ENV_OTEL_RESOURCE_ATTRIBUTES, value: resourceAttributes },
  ];
  return {
    env,
    annotations: {
      [ANNOTATION_POD_TRACEPARENT]: formatTraceparent({ ...sc, sampled: jt.sampled, random: jt.random }),
    },
  };
}
