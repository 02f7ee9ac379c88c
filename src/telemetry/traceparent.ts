// W3C Trace Context `traceparent` parsing and formatting (https://www.w3.org/TR/trace-context/#traceparent-header).
// Pure; unit-tested against the spec's rules.

export interface TraceParent {
  traceId: string;
  spanId: string;
  sampled: boolean;
  /** W3C Trace Context Level 2's random flag (0x02): the trace id's low 56 bits are random. */
  random: boolean;
}

export class TraceParentError extends Error {}

const HEX = /^[0-9a-f]+$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/**
 * Parses a traceparent. Version 00 must have exactly four fields; a higher version may have more
 * (they are ignored, as the spec says), version ff is invalid. Ids are lowercase hex and not all zero.
 */
export function parseTraceparent(value: string): TraceParent {
  const fields = value.trim().split('-');
  const [version, traceId, spanId, flags] = fields;
  const fail = (why: string): never => {
    throw new TraceParentError(`traceparent "${value}": ${why}`);
  };
  if (fields.length < 4) fail('it must have four fields: version-traceid-spanid-flags');
  if (version!.length !== 2 || !HEX.test(version!)) fail('the version must be two lowercase hex digits');
  if (version === 'ff') fail('version ff is invalid');
  if (version === '00' && fields.length !== 4) fail('version 00 has exactly four fields');
  if (traceId!.length !== 32 || !HEX.test(traceId!)) fail('the trace id must be 32 lowercase hex digits');
  if (traceId === ZERO_TRACE_ID) fail('the trace id must not be all zeros');
  if (spanId!.length !== 16 || !HEX.test(spanId!)) fail('the parent id must be 16 lowercase hex digits');
  if (spanId === ZERO_SPAN_ID) fail('the parent id must not be all zeros');
  if (flags!.length !== 2 || !HEX.test(flags!)) fail('the flags must be two lowercase hex digits');
  const bits = parseInt(flags!, 16);
  return { traceId: traceId!, spanId: spanId!, sampled: (bits & 1) === 1, random: (bits & 2) === 2 };
}

/** The trace flags byte: sampled (0x01) and random (0x02). */
export function traceFlagsOf(tp: Pick<TraceParent, 'sampled' | 'random'>): number {
  return (tp.sampled ? 1 : 0) | (tp.random ? 2 : 0);
}

export function formatTraceparent(tp: TraceParent): string {
  return `00-${tp.traceId}-${tp.spanId}-0${traceFlagsOf(tp).toString(16)}`;
}
