// What a real OTLP receiver got of one job's trace (bench/runs.ts's runs, bench/memory.ts): distinct spans and
// every copy, counted from what the receiver holds, not from a deduplicating query.
import { SpanName } from '../src/telemetry/names.js';
import type { OtlpReceiver } from '../test/support/otlpreceiver.js';

/** What the receiver got of one job's trace. */
export interface Delivery {
  expected: number;
  /** Distinct spans of the trace. */
  spans: number;
  /** Every copy received of the trace's spans. */
  copies: number;
  agent: number;
  map: number;
  reduce: number;
  job: number;
  /** Span ids received more than once, any trace. */
  duplicates: number;
}

/**
 * The spans of a job whose every item succeeds at its first attempt: an agent span per item, the map phase, the
 * job, and with a reduce phase its phase span and its pod's agent span.
 */
export const expectedSpans = (items: number, reduce: boolean): number => items + 2 + (reduce ? 2 : 0);

export function deliveryOf(receiver: OtlpReceiver, traceId: string, expected: number): Delivery {
  const spans = receiver.spans().filter((s) => s.span.traceId === traceId);
  const named = (name: string): number =>
    new Set(spans.filter((s) => s.span.name === name).map((s) => s.span.spanId)).size;
  return {
    expected,
    spans: new Set(spans.map((s) => s.span.spanId)).size,
    copies: spans.length,
    agent: named(SpanName.Agent),
    map: named(SpanName.MapPhase),
    reduce: named(SpanName.ReducePhase),
    job: named(SpanName.Job),
    duplicates: receiver.duplicates().length,
  };
}

export const deliveredOnce = (d: Delivery): boolean =>
  d.spans === d.expected && d.copies === d.expected && d.duplicates === 0;
