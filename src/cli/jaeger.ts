// Reads a trace from a Jaeger query endpoint (/api/traces/{id}, the API Jaeger's UI uses).
import { Attr, SpanName } from '../telemetry/names.js';
import type { WaterfallSpan } from './waterfall.js';

interface JaegerTag {
  key: string;
  value: unknown;
}

interface JaegerSpan {
  spanID: string;
  operationName: string;
  references?: { refType: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags?: JaegerTag[];
}

export class TraceNotFound extends Error {}

function tag(span: JaegerSpan, key: string): unknown {
  return span.tags?.find((t) => t.key === key)?.value;
}

function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : '';
}

function label(span: JaegerSpan): string | undefined {
  const index = tag(span, Attr.ItemIndex);
  const attempt = tag(span, Attr.Attempt);
  if (span.operationName !== SpanName.Agent) return undefined;
  const what = index === undefined ? 'reduce' : `item ${text(index)}`;
  const reason = text(tag(span, Attr.FailureReason));
  return `${what} #${text(attempt)}${reason ? ` (${reason})` : ''}`;
}

export function toWaterfallSpans(spans: JaegerSpan[]): WaterfallSpan[] {
  return spans.map((s) => {
    const parentId = s.references?.find((r) => r.refType === 'CHILD_OF')?.spanID;
    const out: WaterfallSpan = {
      spanId: s.spanID,
      name: s.operationName,
      startUs: s.startTime,
      durationUs: s.duration,
      error: tag(s, 'error') === true,
    };
    if (parentId) out.parentId = parentId;
    const l = label(s);
    if (l) out.label = l;
    return out;
  });
}

export async function fetchTrace(jaegerUrl: string, traceId: string): Promise<WaterfallSpan[]> {
  const url = `${jaegerUrl.replace(/\/$/, '')}/api/traces/${traceId}`;
  const res = await fetch(url);
  if (res.status === 404) throw new TraceNotFound(`trace ${traceId} is not in Jaeger at ${jaegerUrl} (yet?)`);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { data?: { spans: JaegerSpan[] }[] };
  return toWaterfallSpans(body.data?.[0]?.spans ?? []);
}
