// The export path of a job's spans. No queue that can overflow: the caller hands over the spans it is
// about to release and waits until every exporter has accepted them, retrying with backoff; on failure it
// throws, so the caller keeps its records (pods, status) and tries again later. Nothing is dropped silently.
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

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
/** How long one export keeps retrying before the reconcile gives up and is retried by the work queue (the SDK's OTEL_BSP_EXPORT_TIMEOUT default). */
export const EXPORT_RETRY_DEADLINE_MS = 30_000;
const EXPORT_RETRY_BASE_MS = 100;
const EXPORT_RETRY_MAX_MS = 5_000;

export class SpanExportError extends Error {}

export interface ExportOptions {
  batchSize?: number;
  deadlineMs?: number;
  retryBaseMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

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

function exportOnce(exporter: SpanExporter, spans: ReadableSpan[]): Promise<Error | undefined> {
  return new Promise((resolve) => {
    try {
      exporter.export(spans, (result) =>
        resolve(
          result.code === ExportResultCode.SUCCESS
            ? undefined
            : (result.error ?? new Error('the exporter reported failure')),
        ),
      );
    } catch (err) {
      resolve(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

export class DurableSpanExporter {
  private readonly batchSize: number;
  private readonly deadlineMs: number;
  private readonly retryBaseMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    readonly exporters: SpanExporter[],
    options: ExportOptions = {},
  ) {
    this.batchSize = options.batchSize ?? EXPORT_BATCH_SIZE;
    this.deadlineMs = options.deadlineMs ?? EXPORT_RETRY_DEADLINE_MS;
    this.retryBaseMs = options.retryBaseMs ?? EXPORT_RETRY_BASE_MS;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** Resolves once every exporter accepted every span; throws SpanExportError when the deadline passed. */
  async export(spans: ReadableSpan[]): Promise<void> {
    for (const batch of exportBatches(spans, this.batchSize)) {
      for (const exporter of this.exporters) await this.exportWithRetry(exporter, batch);
    }
  }

  private async exportWithRetry(exporter: SpanExporter, batch: ReadableSpan[]): Promise<void> {
    const deadline = Date.now() + this.deadlineMs;
    let delay = this.retryBaseMs;
    for (let attempt = 1; ; attempt++) {
      const error = await exportOnce(exporter, batch);
      if (!error) return;
      if (Date.now() + delay > deadline) {
        throw new SpanExportError(
          `${batch.length} spans not accepted by ${exporter.constructor.name} after ${attempt} attempts: ${error.message}`,
        );
      }
      await this.sleep(delay);
      delay = Math.min(delay * 2, EXPORT_RETRY_MAX_MS);
    }
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.exporters.map((e) => e.shutdown()));
  }
}
