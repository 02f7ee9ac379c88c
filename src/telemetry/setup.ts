// Tracing setup from the standard OTEL_* environment: which exporters, which sampler, which resource.
import { randomUUID } from 'node:crypto';
import { ConsoleSpanExporter } from '@opentelemetry/sdk-trace';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as HttpProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import type { DetectedResourceAttributes, Resource, ResourceDetector } from '@opentelemetry/resources';
import { containerDetector } from '@opentelemetry/resource-detector-container';
import { ConfigError } from '../config.js';
import { Attr, DEFAULT_SERVICE_NAME } from './names.js';
import { EXPORT_BATCH_SIZE } from './exporter.js';
import {
  byProtocol,
  exporterNames,
  otlpTarget,
  positiveInt,
  sdkDisabled,
  zipkinEndpoint,
} from './otelenv.js';
import { samplerRatioFromEnv } from './sampling.js';
import type { SpanLimits } from './spans.js';

/** Longest wait for the cluster uid at startup; detection never holds the operator back longer. */
export const CLUSTER_UID_TIMEOUT_MS = 3_000;

export interface TracingSetup {
  exporters: SpanExporter[];
  /** OTEL_BSP_MAX_EXPORT_BATCH_SIZE, applied to the operator's own delivery. */
  batchSize: number;
  /** OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT (else OTEL_ATTRIBUTE_COUNT_LIMIT) and OTEL_[SPAN_]ATTRIBUTE_VALUE_LENGTH_LIMIT. */
  limits: SpanLimits;
  /** Root sampling ratio for jobs without spec.telemetry.sampleRatio. */
  defaultRatio: number;
  /** Why tracing is on or off, for the startup log. */
  description: string;
  /** Settings ignored for a default, each to be logged as a warning. */
  warnings: string[];
}

/**
 * Reads OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_[TRACES_]{ENDPOINT,PROTOCOL},
 * OTEL_EXPORTER_ZIPKIN_ENDPOINT, OTEL_TRACES_SAMPLER[_ARG].
 */
export function tracingFromEnv(env: NodeJS.ProcessEnv): TracingSetup {
  const sampler = samplerRatioFromEnv(env);
  const defaultRatio = sampler.ratio;
  const warnings = sampler.warning ? [sampler.warning] : [];
  const batchSize = positiveInt(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', EXPORT_BATCH_SIZE);
  const limits = spanLimitsFromEnv(env);
  const base = { defaultRatio, batchSize, limits, warnings };
  if (sdkDisabled(env)) return { ...base, exporters: [], description: 'tracing off: OTEL_SDK_DISABLED=true' };
  const names = exporterNames(env, 'TRACES');
  const exporters: SpanExporter[] = [];
  const described: string[] = [];
  for (const name of names) {
    switch (name) {
      case 'none':
        break;
      case 'console':
        exporters.push(new ConsoleSpanExporter());
        described.push('console');
        break;
      case 'otlp': {
        const target = otlpTarget(env, 'TRACES');
        if (!target) {
          described.push('otlp skipped: no OTEL_EXPORTER_OTLP_ENDPOINT');
          break;
        }
        exporters.push(
          byProtocol<SpanExporter>(target.protocol, {
            grpc: () => new GrpcTraceExporter(),
            'http/protobuf': () => new HttpProtoTraceExporter(),
            'http/json': () => new HttpJsonTraceExporter(),
          }),
        );
        described.push(`otlp ${target.protocol} to ${target.endpoint}`);
        break;
      }
      case 'zipkin': {
        const url = zipkinEndpoint(env);
        exporters.push(new ZipkinExporter({ url }));
        described.push(`zipkin to ${url}`);
        break;
      }
      default:
        throw new ConfigError(
          `OTEL_TRACES_EXPORTER: "${name}" is not supported; use otlp, zipkin, console or none (comma-separated)`,
        );
    }
  }
  const description =
    exporters.length > 0
      ? `tracing on: ${described.join(', ')}; root sample ratio ${defaultRatio}`
      : `tracing off${described.length ? `: ${described.join(', ')}` : ''}`;
  return { ...base, exporters, description };
}

/** The span limits the specification's variables set; unset ones are no limit (the operator's spans are small). */
export function spanLimitsFromEnv(env: NodeJS.ProcessEnv): SpanLimits {
  const pick = (...names: string[]): number | undefined => {
    const name = names.find((n) => env[n]?.trim());
    return name ? positiveInt(env, name, 0) : undefined;
  };
  const limits: SpanLimits = {};
  const count = pick('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT');
  const length = pick('OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT');
  if (count !== undefined) limits.attributeCount = count;
  if (length !== undefined) limits.attributeValueLength = length;
  return limits;
}

export interface ResourceInput {
  env: NodeJS.ProcessEnv;
  version: string;
  clusterName?: string;
  /** Reads the kube-system namespace's uid; may fail (no RBAC, no cluster). */
  clusterUid: () => Promise<string | undefined>;
}

/** A promise's value, or undefined when it fails or takes longer than `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}

/**
 * Attributes that name or describe one replica of the operator (prefixes end in a dot). A job's spans leave
 * them out: the spans describe the job, whichever replica recorded them, so a span re-exported by another
 * replica after a crash is byte-identical to the first and trace backends deduplicate it (Jaeger's query
 * does, by content hash). host.*, os.* and process.* come from the SDK's detectors and differ per replica.
 */
export const REPLICA_ATTRIBUTES = [
  'service.instance.id',
  Attr.K8sPodName,
  Attr.K8sPodUid,
  Attr.K8sNodeName,
  'container.',
  'host.',
  'os.',
  'process.',
] as const;

function namesReplica(key: string): boolean {
  return REPLICA_ATTRIBUTES.some((r) => (r.endsWith('.') ? key.startsWith(r) : key === r));
}

/** The resource of a job's spans: the operator's, without the attributes that name a replica. */
export function jobSpanResource(operator: Resource): Resource {
  const attributes = { ...operator.attributes };
  for (const key of Object.keys(attributes)) if (namesReplica(key)) delete attributes[key];
  return resourceFromAttributes(attributes);
}

/**
 * Ours, for what the SDK's detectors cannot know: service.* defaults, and the pod's k8s.* attributes from
 * downward-API env (POD_NAME, POD_UID, POD_NAMESPACE, NODE_NAME) and the cluster (its name from
 * --cluster-name, its uid from the kube-system namespace, asked at most CLUSTER_UID_TIMEOUT_MS).
 */
export function kubernetesDetector(input: ResourceInput): ResourceDetector {
  const { env } = input;
  return {
    detect: () => {
      const attributes: DetectedResourceAttributes = {
        'service.name': DEFAULT_SERVICE_NAME,
        'service.version': input.version,
        'service.instance.id': env.POD_UID || randomUUID(),
        [Attr.K8sNamespace]: env.POD_NAMESPACE || undefined,
        [Attr.K8sPodName]: env.POD_NAME || undefined,
        [Attr.K8sPodUid]: env.POD_UID || undefined,
        [Attr.K8sNodeName]: env.NODE_NAME || undefined,
        [Attr.K8sClusterName]: input.clusterName || undefined,
        [Attr.K8sClusterUid]: withTimeout(input.clusterUid(), CLUSTER_UID_TIMEOUT_MS),
      };
      return { attributes };
    },
  };
}

/**
 * The operator's resource, from the SDK's detectors in order of precedence (a later one wins): the SDK's
 * default (telemetry.sdk.*), host and os, process, container (container.id), ours for Kubernetes, then
 * OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (the env detector), which win. The detectors read
 * process.env. Never throws, never waits longer than CLUSTER_UID_TIMEOUT_MS for a detector.
 */
export async function operatorResource(input: ResourceInput): Promise<Resource> {
  const detected = defaultResource().merge(
    detectResources({
      detectors: [
        hostDetector,
        osDetector,
        processDetector,
        containerDetector,
        kubernetesDetector(input),
        envDetector,
      ],
    }),
  );
  await withTimeout(detected.waitForAsyncAttributes?.() ?? Promise.resolve(), CLUSTER_UID_TIMEOUT_MS);
  // Settled: a span or point made from it carries the same attributes on every export.
  return resourceFromAttributes(detected.attributes);
}
