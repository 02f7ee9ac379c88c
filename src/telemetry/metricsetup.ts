// Metric pipelines: the Prometheus endpoint (ours) and what the SDK builds from OTEL_METRICS_EXPORTER.
// The endpoint has its own MeterProvider, because the Prometheus names carry a unit suffix
// (mapreduce_agent_duration_seconds) that OTLP names must not, and the SDK's PrometheusExporter adds none:
// one MeterProvider's views apply to all its readers.
import type { Meter } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { Resource } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { SECONDS_METRICS } from './metricnames.js';
import { INSTRUMENTATION_SCOPE } from './names.js';

/** Which metric exporters run, and which of them the SDK builds. */
export interface MetricsPlan {
  /** The Prometheus endpoint /metrics, ours. */
  prometheus: boolean;
  /** OTEL_METRICS_EXPORTER as the SDK is to read it: the list without prometheus, or none. */
  sdkExporters: string;
}

/** A comma-separated OTEL_* list, read as the SDK's getStringListFromEnv does. */
function listOf(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * OTEL_METRICS_EXPORTER, default `prometheus` plus `otlp` when an OTLP endpoint is set (without one the SDK
 * would push to localhost:4318 and log a failure every minute). `prometheus` is the endpoint on
 * --metrics-port (0 turns it off); `none` turns all off. Pure.
 */
export function metricsPlan(env: NodeJS.ProcessEnv, prometheusPort: number): MetricsPlan {
  const endpoint = env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const given = listOf(env.OTEL_METRICS_EXPORTER);
  const names = given.length > 0 ? given : ['prometheus', ...(endpoint ? ['otlp'] : [])];
  if (names.includes('none')) return { prometheus: false, sdkExporters: 'none' };
  const sdk = names.filter((n) => n !== 'prometheus');
  return {
    prometheus: names.includes('prometheus') && prometheusPort > 0,
    sdkExporters: sdk.length > 0 ? sdk.join(',') : 'none',
  };
}

export interface PrometheusInput {
  /** Port of /metrics. */
  port: number;
  /** Address /metrics listens on (the exporter's own default is localhost). */
  host: string;
  /** Told when /metrics cannot listen (e.g. the port is taken): the operator goes on without it. */
  onEndpointError?: (err: Error) => void;
  resource: Resource;
  version: string;
}

export interface PrometheusEndpoint {
  meter: Meter;
  description: string;
  shutdown(): Promise<void>;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** /metrics, with durations named `_seconds` as Prometheus wants. */
export function startPrometheus(input: PrometheusInput): PrometheusEndpoint {
  const provider = new MeterProvider({
    resource: input.resource,
    views: SECONDS_METRICS.map((name) => ({ instrumentName: name, name: `${name}_seconds` })),
    readers: [
      new PrometheusExporter({ host: input.host, port: input.port }, (err) => {
        if (err) input.onEndpointError?.(err);
      }),
    ],
  });
  return {
    meter: provider.getMeter(INSTRUMENTATION_SCOPE, input.version),
    description: `prometheus on ${hostPort(input.host, input.port)}/metrics`,
    shutdown: () => provider.shutdown(),
  };
}
