// Head sampling, decided once per job at its start: parent-based, with a trace-id-ratio root.

/**
 * The root ratio from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (the SDK's values). An unknown sampler or a
 * bad ratio is not fatal: as the specification asks, it is a warning and the default (parentbased_always_on,
 * ratio 1) applies.
 */
export function samplerRatioFromEnv(env: NodeJS.ProcessEnv): { ratio: number; warning?: string } {
  const sampler = (env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on').trim().toLowerCase();
  switch (sampler) {
    case 'always_on':
    case 'parentbased_always_on':
      return { ratio: 1 };
    case 'always_off':
    case 'parentbased_always_off':
      return { ratio: 0 };
    case 'traceidratio':
    case 'parentbased_traceidratio': {
      const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
      if (arg === undefined || arg === '') return { ratio: 1 };
      const ratio = Number(arg);
      if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1)
        return {
          ratio: 1,
          warning: `OTEL_TRACES_SAMPLER_ARG: "${arg}" is not a number from 0 to 1; using ratio 1`,
        };
      return { ratio };
    }
    default:
      return {
        ratio: 1,
        warning: `OTEL_TRACES_SAMPLER: "${sampler}" is not supported (always_on, always_off, traceidratio or their parentbased_ forms); using parentbased_always_on`,
      };
  }
}

const RANDOMNESS_BITS = 56n;
const MAX_THRESHOLD = 1n << RANDOMNESS_BITS;

/**
 * OpenTelemetry's consistent probability sampling (OTEP 235): the rejection threshold of a ratio, a 56-bit
 * number T = (1 − ratio) × 2^56; a trace is sampled when its randomness (the trace id's low 56 bits) is ≥ T.
 */
export function rejectionThreshold(ratio: number): bigint {
  if (ratio >= 1) return 0n;
  if (ratio <= 0) return MAX_THRESHOLD;
  return MAX_THRESHOLD - BigInt(Math.round(ratio * 2 ** 56));
}

/** The threshold as TRACESTATE's `ot=th:` value: 14 hex digits, trailing zeros dropped ("0" for all). */
export function thresholdHex(threshold: bigint): string {
  return threshold.toString(16).padStart(14, '0').replace(/0+$/, '') || '0';
}

/** Sampled at `ratio`, decided by the trace id alone so that every consistent sampler agrees. */
export function traceIdRatioSampled(traceId: string, ratio: number): boolean {
  if (ratio <= 0) return false;
  return BigInt(`0x${traceId.slice(-14)}`) >= rejectionThreshold(ratio);
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
