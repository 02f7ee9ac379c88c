// A trace as a terminal waterfall: one line per span, indented by depth, a bar on a shared time axis,
// failures marked. Pure: spans in, text out.

export interface WaterfallSpan {
  spanId: string;
  parentId?: string;
  name: string;
  /** Start, in microseconds since the epoch (Jaeger's unit). */
  startUs: number;
  durationUs: number;
  error: boolean;
  /** What to print after the name, e.g. "item 3 attempt 1". */
  label?: string;
}

export interface WaterfallOptions {
  /** Columns for the bars. */
  width?: number;
  /** Most lines printed; the rest are summarised. */
  maxLines?: number;
}

/** Terminal columns the bar area gets by default. */
export const DEFAULT_BAR_WIDTH = 50;
/** Lines printed before the rest is summarised, so a 100,000-span trace stays readable. */
export const DEFAULT_MAX_LINES = 60;
const NAME_WIDTH = 56;

function formatDuration(us: number): string {
  if (us < 1000) return `${us}µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(0)}ms`;
  if (us < 60_000_000) return `${(us / 1_000_000).toFixed(1)}s`;
  return `${Math.floor(us / 60_000_000)}m${Math.round((us % 60_000_000) / 1_000_000)}s`;
}

/** Spans in tree order: each parent, then its children by start time. Orphans go at the root. */
export function treeOrder(spans: WaterfallSpan[]): { span: WaterfallSpan; depth: number }[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | undefined, WaterfallSpan[]>();
  for (const s of spans) {
    const parent = s.parentId && ids.has(s.parentId) ? s.parentId : undefined;
    const list = children.get(parent) ?? [];
    list.push(s);
    children.set(parent, list);
  }
  for (const list of children.values())
    list.sort((a, b) => a.startUs - b.startUs || a.name.localeCompare(b.name));
  const out: { span: WaterfallSpan; depth: number }[] = [];
  const visit = (parent: string | undefined, depth: number): void => {
    for (const s of children.get(parent) ?? []) {
      out.push({ span: s, depth });
      visit(s.spanId, depth + 1);
    }
  };
  visit(undefined, 0);
  return out;
}

export function renderWaterfall(spans: WaterfallSpan[], options: WaterfallOptions = {}): string {
  if (spans.length === 0) return '(no spans)\n';
  const width = options.width ?? DEFAULT_BAR_WIDTH;
  const maxLines = options.maxLines ?? DEFAULT_MAX_LINES;
  const start = Math.min(...spans.map((s) => s.startUs));
  const end = Math.max(...spans.map((s) => s.startUs + s.durationUs));
  const total = Math.max(1, end - start);
  const lines: string[] = [];
  lines.push(`${''.padEnd(NAME_WIDTH)} 0${formatDuration(total).padStart(width - 1)}`);
  const ordered = treeOrder(spans);
  for (const { span, depth } of ordered.slice(0, maxLines)) {
    const from = Math.floor(((span.startUs - start) / total) * width);
    const len = Math.max(1, Math.round((span.durationUs / total) * width));
    const bar =
      ' '.repeat(Math.min(from, width - 1)) + (span.error ? 'x' : '█').repeat(Math.min(len, width - from));
    const name = `${'  '.repeat(depth)}${span.name}${span.label ? ` ${span.label}` : ''}`;
    const shown = name.length > NAME_WIDTH - 2 ? `${name.slice(0, NAME_WIDTH - 3)}…` : name;
    const mark = span.error ? '✗' : ' ';
    lines.push(
      `${mark} ${shown.padEnd(NAME_WIDTH - 2)} ${bar.padEnd(width)} ${formatDuration(span.durationUs)}`,
    );
  }
  if (ordered.length > maxLines) lines.push(`  … ${ordered.length - maxLines} more spans`);
  const errors = spans.filter((s) => s.error).length;
  lines.push(`${spans.length} spans, ${errors} failed (✗, bar drawn with x)`);
  return `${lines.join('\n')}\n`;
}
