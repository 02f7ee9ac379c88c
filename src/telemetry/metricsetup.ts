// Metric pipelines from flags and the standard OTEL_* environment: a Prometheus endpoint and an OTLP push.
// Each pipeline has its own MeterProvider, because the Prometheus names carry a unit suffix
// (mapreduce_agent_duration_seconds) that OTLP names must not.
import type { Meter } from '@opentelemetry/api';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as HttpJsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as HttpProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { Resource } from '@opentelemetry/resources';
import {
  ConsoleMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { ConfigError } from '../config.js';
import { SECONDS_METRICS } from './metricnames.js';
import { byProtocol, exporterNames, otlpTarget, positiveInt, sdkDisabled } from './otelenv.js';
import { INSTRUMENTATION_SCOPE } from './names.js';

/** The OTLP push interval without OTEL_METRIC_EXPORT_INTERVAL (the SDK's default). */
export const DEFAULT_EXPORT_INTERVAL_MS = 60_000;
export const DEFAULT_EXPORT_TIMEOUT_MS = 30_000;

export interface MetricsSetup {
  meters: Meter[];
  description: string;
  shutdown(): Promise<void>;
}

export interface MetricsInput {
  env: NodeJS.ProcessEnv;
  /** Port of /metrics; 0 turns the endpoint off. */
  prometheusPort: number;
  /** Address /metrics listens on (the exporter's own default is localhost). */
  prometheusHost: string;
  /** Told when /metrics cannot listen (e.g. the port is taken): the operator goes on without it. */
  onEndpointError?: (err: Error) => void;
  resource: Resource;
  version: string;
}

/** Push exporters named by OTEL_METRICS_EXPORTER (otlp by default, only with an endpoint; console; none). */
export function pushExportersFromEnv(env: NodeJS.ProcessEnv): {
  exporters: PushMetricExporter[];
  described: string[];
} {
  if (sdkDisabled(env)) return { exporters: [], described: [] };
  const exporters: PushMetricExporter[] = [];
  const described: string[] = [];
  const names = exporterNames(env, 'METRICS');
  for (const name of names) {
    switch (name) {
      case 'none':
      case 'prometheus': // the pull endpoint, configured by --metrics-port
        break;
      case 'console':
        exporters.push(new ConsoleMetricExporter());
        described.push('console');
        break;
      case 'otlp': {
        const target = otlpTarget(env, 'METRICS');
        if (!target) break;
        exporters.push(
          byProtocol<PushMetricExporter>(target.protocol, {
            grpc: () => new GrpcMetricExporter(),
            'http/protobuf': () => new HttpProtoMetricExporter(),
            'http/json': () => new HttpJsonMetricExporter(),
          }),
        );
        described.push(`otlp ${target.protocol} to ${target.endpoint}`);
        break;
      }
      default:
        throw new ConfigError(
          `OTEL_METRICS_EXPORTER: "${name}" is not supported; use otlp, prometheus, console or none (comma-separated)`,
        );
    }
  }
  return { exporters, described };
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function setUpMetrics(input: MetricsInput): MetricsSetup {
  const { env } = input;
  const providers: MeterProvider[] = [];
  const described: string[] = [];
  if (input.prometheusPort > 0) {
    providers.push(
      new MeterProvider({
        resource: input.resource,
        views: SECONDS_METRICS.map((name) => ({ instrumentName: name, name: `${name}_seconds` })),
        readers: [
          new PrometheusExporter({ host: input.prometheusHost, port: input.prometheusPort }, (err) => {
            if (err) input.onEndpointError?.(err);
          }),
        ],
      }),
    );
    described.push(`prometheus on ${hostPort(input.prometheusHost, input.prometheusPort)}/metrics`);
  }
  const push = pushExportersFromEnv(env);
  if (push.exporters.length > 0) {
    const interval = positiveInt(env, 'OTEL_METRIC_EXPORT_INTERVAL', DEFAULT_EXPORT_INTERVAL_MS);
    const timeout = Math.min(
      positiveInt(env, 'OTEL_METRIC_EXPORT_TIMEOUT', DEFAULT_EXPORT_TIMEOUT_MS),
      interval,
    );
    providers.push(
      new MeterProvider({
        resource: input.resource,
        readers: push.exporters.map(
          (exporter) =>
            new PeriodicExportingMetricReader({
              exporter,
              exportIntervalMillis: interval,
              exportTimeoutMillis: timeout,
            }),
        ),
      }),
    );
    described.push(...push.described.map((d) => `${d} every ${interval} ms`));
  }
  return {
    meters: providers.map((p) => p.getMeter(INSTRUMENTATION_SCOPE, input.version)),
    description: described.length ? `metrics: ${described.join(', ')}` : 'metrics off',
    shutdown: async () => {
      await Promise.all(providers.map((p) => p.shutdown()));
    },
  };
}
