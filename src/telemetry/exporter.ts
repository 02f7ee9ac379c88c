// How spans are cut into export requests: by count and by estimated bytes, under the receivers' message
// limits (delivery.ts sends them).
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

/** Spans per export request at most (the SDK's OTEL_BSP_MAX_EXPORT_BATCH_SIZE default). */
export const EXPORT_BATCH_SIZE = 512;
/**
 * Estimated bytes per export request at most: half the OTLP receivers' default 4 MiB gRPC message limit, for
 * the encoding's overhead. 512 spans with the 64 user attributes of 1 KiB the CRD allows would be ~33 MiB:
 * such spans go ~30 to a request. A single span over it goes alone.
 */
export const MAX_EXPORT_BATCH_BYTES = 2 * 1024 * 1024;
/** Ids, times, kind, status, flags and the protobuf framing of one span, roughly. */
const SPAN_OVERHEAD_BYTES = 96;

function valueBytes(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8') + 2;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + valueBytes(v), 2);
  return 9; // a number or boolean, and its tag
}

function attributesBytes(attributes: Record<string, unknown> | undefined): number {
  let n = 0;
  for (const [k, v] of Object.entries(attributes ?? {}))
    n += Buffer.byteLength(k, 'utf8') + 4 + valueBytes(v);
  return n;
}

/** About how many bytes a span takes in an OTLP request: its names and attributes dominate. */
export function estimatedSpanBytes(span: ReadableSpan): number {
  let n = SPAN_OVERHEAD_BYTES + Buffer.byteLength(span.name, 'utf8') + attributesBytes(span.attributes);
  n += Buffer.byteLength(span.status.message ?? '', 'utf8');
  for (const e of span.events) n += 16 + Buffer.byteLength(e.name, 'utf8') + attributesBytes(e.attributes);
  for (const l of span.links) n += 48 + attributesBytes(l.attributes);
  return n;
}

/** Splits spans into requests of at most `maxSpans` spans and MAX_EXPORT_BATCH_BYTES estimated bytes. Pure. */
export function exportBatches(
  spans: ReadableSpan[],
  maxSpans: number,
  maxBytes = MAX_EXPORT_BATCH_BYTES,
): ReadableSpan[][] {
  const batches: ReadableSpan[][] = [];
  let current: ReadableSpan[] = [];
  let bytes = 0;
  for (const span of spans) {
    const size = estimatedSpanBytes(span);
    if (current.length > 0 && (current.length >= maxSpans || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(span);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
