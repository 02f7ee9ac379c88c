// The export path of a job's spans. No queue that can overflow: the caller hands over the spans it is
// about to release and waits until every exporter has accepted them, retrying with backoff; on failure it
// throws, so the caller keeps its records (pods, status) and tries again later. Nothing is dropped silently.
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

/** Spans per export request: well under the OTLP receivers' default 4 MiB gRPC message limit. */
export const EXPORT_BATCH_SIZE = 512;
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
    for (let i = 0; i < spans.length; i += this.batchSize) {
      const batch = spans.slice(i, i + this.batchSize);
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
