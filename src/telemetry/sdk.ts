// The OpenTelemetry Node SDK (NodeSDK, its public API only) as the operator's source of configuration for
// what it can hand over: the metric readers OTEL_METRICS_EXPORTER names (otlp, console, with
// OTEL_METRIC_EXPORT_INTERVAL/TIMEOUT and the exporters' own OTEL_EXPORTER_OTLP_* variables), the
// propagators OTEL_PROPAGATORS names, and the context manager. Spans do not go through it: they are built
// from persisted status and delivered by SpanDelivery, which needs each exporter's answer, and NodeSDK keeps
// its exporters, processors and resource private (docs/telemetry.md, "On the SDK").
import { diag, DiagLogLevel, metrics, propagation } from '@opentelemetry/api';
import type { DiagLogger, Meter, TextMapPropagator } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { INSTRUMENTATION_SCOPE } from './names.js';

export interface SdkLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface RunningSdk {
  /** A meter of the SDK's MeterProvider (a no-op one when OTEL_METRICS_EXPORTER leaves it none). */
  meter: Meter;
  /** The global propagator the SDK set from OTEL_PROPAGATORS (none: a no-op one). */
  propagator: TextMapPropagator;
  shutdown(): Promise<void>;
}

/** The SDK's own diagnostics, as warnings and errors in the operator's log. */
function diagToLog(log: SdkLog): DiagLogger {
  const line =
    (level: 'warn' | 'error') =>
    (message: string, ...args: unknown[]): void =>
      log[level](args.length ? { args: args.map(String) } : {}, message);
  const none = (): void => undefined;
  return { error: line('error'), warn: line('warn'), info: none, debug: none, verbose: none };
}

/**
 * Starts NodeSDK on `resource` (the operator's detected resource: the SDK would detect its own but keeps it
 * private, and spans need it too), with no span processors (no TracerProvider: our spans are not made by a
 * live Tracer) and no log record processors (logs go through the pino transport, log.ts). Reads process.env;
 * not to be called when OTEL_SDK_DISABLED is true (NodeSDK's constructor would still build the metric
 * readers, a Prometheus one listening on its port).
 */
export function startSdk(input: { resource: Resource; version: string; log: SdkLog }): RunningSdk {
  if (!process.env.OTEL_LOG_LEVEL) diag.setLogger(diagToLog(input.log), DiagLogLevel.WARN);
  const sdk = new NodeSDK({
    resource: input.resource,
    autoDetectResources: false,
    spanProcessors: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return {
    meter: metrics.getMeter(INSTRUMENTATION_SCOPE, input.version),
    propagator: propagation,
    shutdown: () => sdk.shutdown(),
  };
}
