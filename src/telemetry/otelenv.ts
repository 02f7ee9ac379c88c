// The standard OTEL_* variables of the trace pipeline, which the operator reads itself: the SDK reads them only
// inside NodeSDK's TracerProvider, which the operator's spans do not pass through (docs/telemetry.md, "On the
// OpenTelemetry SDK"). Metric readers, propagators and resource attributes are the SDK's to read.
import { ConfigError } from '../config.js';

export type Signal = 'TRACES';
export type OtlpProtocol = 'grpc' | 'http/protobuf' | 'http/json';

/** A positive whole-number variable, or its fallback when unset. */
export function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) === 0)
    throw new ConfigError(`${name}: "${raw}" must be a positive whole number`);
  return Number(raw);
}

/** The comma-separated exporter names of OTEL_TRACES_EXPORTER (default otlp). */
export function exporterNames(env: NodeJS.ProcessEnv, signal: Signal): Set<string> {
  return new Set(
    (env[`OTEL_${signal}_EXPORTER`] ?? 'otlp')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== ''),
  );
}

/** The signal's OTLP endpoint and protocol; undefined without an endpoint (OTLP export is then off). */
export function otlpTarget(
  env: NodeJS.ProcessEnv,
  signal: Signal,
): { endpoint: string; protocol: OtlpProtocol } | undefined {
  const endpoint = env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`] ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return undefined;
  const protocol = (
    env[`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`] ??
    env.OTEL_EXPORTER_OTLP_PROTOCOL ??
    'grpc'
  ).trim();
  if (protocol !== 'grpc' && protocol !== 'http/protobuf' && protocol !== 'http/json')
    throw new ConfigError(
      `OTEL_EXPORTER_OTLP_PROTOCOL: "${protocol}" is not supported; use grpc, http/protobuf or http/json`,
    );
  return { endpoint, protocol };
}

/** The OpenTelemetry specification's default for OTEL_EXPORTER_ZIPKIN_ENDPOINT. */
export const DEFAULT_ZIPKIN_ENDPOINT = 'http://localhost:9411/api/v2/spans';

/** OTEL_EXPORTER_ZIPKIN_ENDPOINT: the URL Zipkin's v2 JSON spans are POSTed to. */
export function zipkinEndpoint(env: NodeJS.ProcessEnv): string {
  const endpoint = env.OTEL_EXPORTER_ZIPKIN_ENDPOINT?.trim() || DEFAULT_ZIPKIN_ENDPOINT;
  let protocol: string;
  try {
    protocol = new URL(endpoint).protocol;
  } catch {
    protocol = '';
  }
  if (protocol !== 'http:' && protocol !== 'https:')
    throw new ConfigError(`OTEL_EXPORTER_ZIPKIN_ENDPOINT: "${endpoint}" is not an http or https URL`);
  return endpoint;
}

/** OTEL_SDK_DISABLED, as the SDK reads it (true, any case); decided before anything starts. */
export function sdkDisabled(env: NodeJS.ProcessEnv): boolean {
  return env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
}

/** The exporter for an OTLP protocol, from one constructor per protocol. */
export function byProtocol<T>(protocol: OtlpProtocol, make: Record<OtlpProtocol, () => T>): T {
  return make[protocol]();
}
