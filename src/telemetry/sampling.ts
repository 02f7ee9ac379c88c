// Head sampling, decided once per job at its start: parent-based, with a trace-id-ratio root.
import { ConfigError } from '../config.js';

/** The root ratio from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (the SDK's values). */
export function samplerRatioFromEnv(env: NodeJS.ProcessEnv): number {
  const sampler = (env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on').trim().toLowerCase();
  switch (sampler) {
    case 'always_on':
    case 'parentbased_always_on':
      return 1;
    case 'always_off':
    case 'parentbased_always_off':
      return 0;
    case 'traceidratio':
    case 'parentbased_traceidratio': {
      const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
      if (arg === undefined || arg === '') return 1;
      const ratio = Number(arg);
      if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1)
        throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG: "${arg}" must be a number from 0 to 1`);
      return ratio;
    }
    default:
      throw new ConfigError(
        `OTEL_TRACES_SAMPLER: "${sampler}" is not supported; use always_on, always_off, traceidratio or their parentbased_ forms`,
      );
  }
}

/**
 * The trace-id-ratio rule of the Go SDK (TraceIDRatioBased): sampled when the trace id's last 8 bytes, read as a
 * number, fall below ratio × 2^64 (deterministic in the trace id, so every decision about it agrees).
 */
export function traceIdRatioSampled(traceId: string, ratio: number): boolean {
  if (ratio >= 1) return true;
  if (ratio <= 0) return false;
  const bound = BigInt(Math.floor(ratio * 2 ** 53)) << 11n;
  return BigInt(`0x${traceId.slice(16)}`) < bound;
}

export interface SamplingInput {
  /** The parent's sampled flag when the job continues a trace. */
  parentSampled?: boolean;
  /** spec.telemetry.sampleRatio. */
  jobRatio?: number;
  /** The operator's default root ratio. */
  defaultRatio: number;
  traceId: string;
}

export function decideSampled(input: SamplingInput): boolean {
  if (input.parentSampled !== undefined) return input.parentSampled;
  return traceIdRatioSampled(input.traceId, input.jobRatio ?? input.defaultRatio);
}
