// Span delivery off the data plane. The controller hands over the spans of what a status write has ended
// (an attempt, a phase, the job) as units and never waits: one loop in the background exports them, in
// batches sized by bytes, to every exporter, retrying transient errors with backoff. A unit is *settled*
// when every exporter accepted its spans (delivered) or when they were given up (dropped: a permanent error,
// or --span-delivery-timeout passed). Until a unit settles, what it was built from stays: the attempt's pod
// keeps its tracking finalizer, the job keeps its telemetry finalizer and status does not mark it
// delivered; so a restarted operator builds and delivers the same unit again. Memory is bounded: beyond
// MAX_PENDING_SPANS a unit is refused and the caller tries again later (its pod is the durable copy).
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { ExportResultCode } from '@opentelemetry/core';
import { exportBatches, MAX_EXPORT_BATCH_BYTES } from './exporter.js';

export type UnitState = 'pending' | 'delivered' | 'dropped';

/** Spans held in memory awaiting delivery at most (~2–3 KB each: tens of MB); more are refused for now. */
export const MAX_PENDING_SPANS = 20_000;
/** Default --span-delivery-timeout: how long spans are retried before they are dropped (and counted). */
export const DEFAULT_SPAN_DELIVERY_TIMEOUT_MS = 10 * 60 * 1000;
/** A job whose spans have waited this long gets a SpansDelayed Warning Event (once per delay). */
export const DELIVERY_DELAYED_AFTER_MS = 60 * 1000;
/** How long a released pod's unit is still remembered: longer than any informer cache lags behind. */
export const FORGET_GRACE_MS = 5 * 60 * 1000;
const SWEEP_EVERY_MS = 10_000;
/** Each export request's own timeout (the SDK's OTEL_BSP_EXPORT_TIMEOUT default). */
export const EXPORT_REQUEST_TIMEOUT_MS = 30_000;
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;

/** How an exporter's failure is treated: retried, given up, or the request was too large (split it). */
export type ExportFailure = 'transient' | 'permanent' | 'tooLarge';

/** gRPC codes the OTLP specification calls retryable (RESOURCE_EXHAUSTED is handled apart). */
const GRPC_RETRYABLE = new Set([1, 4, 10, 11, 14, 15]); // CANCELLED DEADLINE_EXCEEDED ABORTED OUT_OF_RANGE UNAVAILABLE DATA_LOSS
const GRPC_RESOURCE_EXHAUSTED = 8;
/** HTTP statuses the OTLP specification calls retryable. */
const HTTP_RETRYABLE = new Set([429, 502, 503, 504]);
const HTTP_TOO_LARGE = 413;

/** The Zipkin exporter's error for a refused request names the HTTP status only in its message. */
const ZIPKIN_HTTP_STATUS = /^Got unexpected status code from zipkin: (\d{3})$/;

/**
 * Classifies an exporter's error as the OTLP specification does. gRPC errors carry a numeric code from 0 to
 * 16 and HTTP errors (OTLPExporterError) the response status, as does the Zipkin exporter's message; a
 * network error (connection refused, reset, timeout) carries neither and is transient. A gRPC
 * RESOURCE_EXHAUSTED saying the message was too large, and HTTP 413, mean "too large".
 */
export function classifyExportError(err: unknown): ExportFailure {
  const message = err instanceof Error ? err.message : String(err);
  const zipkinStatus = ZIPKIN_HTTP_STATUS.exec(message)?.[1];
  const code = zipkinStatus ? Number(zipkinStatus) : (err as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'number') return 'transient';
  if (code >= 100) {
    if (code === HTTP_TOO_LARGE) return 'tooLarge';
    return HTTP_RETRYABLE.has(code) ? 'transient' : 'permanent';
  }
  if (code === GRPC_RESOURCE_EXHAUSTED)
    return /larger than max|too large|message length/i.test(message) ? 'tooLarge' : 'transient';
  return GRPC_RETRYABLE.has(code) ? 'transient' : 'permanent';
}

export type DropReason = 'permanent' | 'timeout' | 'tooLarge';

/** What delivery reports, for metrics (names in metricnames.ts). */
export interface DeliveryObserver {
  delivered(spans: number, latenciesMs: number[]): void;
  /** One failed export request, before any retry. */
  failed(spans: number, kind: ExportFailure): void;
  dropped(spans: number, why: DropReason): void;
}

export interface DeliveryLog {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

export interface DeliveryOptions {
  exporters: SpanExporter[];
  /** --span-delivery-timeout. */
  timeoutMs?: number;
  batchSize?: number;
  maxBatchBytes?: number;
  maxPendingSpans?: number;
  retryBaseMs?: number;
  /** A unit of this job settled, or the job has news (spans dropped, delivery delayed): reconcile it. */
  onNews: (jobKey: string) => void;
  /**
   * Units every exporter accepted, by id, as soon as they are (before onNews): what was held for them may go
   * now rather than at the job's next reconcile. Not called for dropped units.
   */
  onDelivered?: (ids: string[]) => void;
  log: DeliveryLog;
  observer?: DeliveryObserver;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface Unit {
  id: string;
  jobKey: string;
  spans: ReadableSpan[];
  submittedAt: number;
  state: UnitState;
  /** Per exporter (by index): it accepted all of this unit's spans, or refused one for good. */
  settledBy: boolean[];
  /** "exporter:spanId" of each span an exporter accepted. */
  acceptedSpans: Set<string>;
  /** Why the unit is given up, once it is. */
  lost?: DropReason;
  /** When its state may be forgotten (set once what it was built from is gone). */
  forgetAt?: number;
}

/** What a job's next status write should say about its spans; taken once. */
export interface JobNews {
  dropped: number;
  /** Spans of this job have waited longer than DELIVERY_DELAYED_AFTER_MS (said once per delay). */
  delayed: boolean;
}

interface JobBook {
  dropped: number;
  delayedSaid: boolean;
  delayedNow: boolean;
}

function spanKey(span: ReadableSpan): string {
  return span.spanContext().spanId;
}

/** One request; an exporter that never answers counts as a transient failure after EXPORT_REQUEST_TIMEOUT_MS. */
function exportOnce(exporter: SpanExporter, spans: ReadableSpan[]): Promise<unknown> {
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => resolve(new Error(`no answer within ${EXPORT_REQUEST_TIMEOUT_MS} ms`)),
      EXPORT_REQUEST_TIMEOUT_MS,
    );
    timer.unref();
    try {
      exporter.export(spans, (result) => {
        clearTimeout(timer);
        resolve(
          result.code === ExportResultCode.SUCCESS
            ? undefined
            : (result.error ?? new Error('the exporter reported failure')),
        );
      });
    } catch (err) {
      clearTimeout(timer);
      resolve(err ?? new Error('the exporter threw'));
    }
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class SpanDelivery {
  private readonly units = new Map<string, Unit>();
  /** Pending units in the order they came. */
  private queue: Unit[] = [];
  private pendingSpans = 0;
  private readonly books = new Map<string, JobBook>();
  private running = false;
  private stopped = false;
  /** Failed export requests since the last success: one log line when a streak starts and when it ends. */
  private failureStreak = 0;
  private streakStartedAt = 0;
  private readonly timeoutMs: number;
  private readonly batchSize: number;
  private readonly maxBatchBytes: number;
  private readonly maxPendingSpans: number;
  private readonly retryBaseMs: number;
  private readonly clock: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private observer: DeliveryObserver | undefined;
  private lastSweep = 0;
  /** The wait before forming a request again after a transient failure; doubles up to RETRY_MAX_MS. */
  private backoff: number;

  constructor(private readonly options: DeliveryOptions) {
    this.observer = options.observer;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_SPAN_DELIVERY_TIMEOUT_MS;
    this.batchSize = options.batchSize ?? 512;
    this.maxBatchBytes = options.maxBatchBytes ?? MAX_EXPORT_BATCH_BYTES;
    this.maxPendingSpans = options.maxPendingSpans ?? MAX_PENDING_SPANS;
    this.retryBaseMs = options.retryBaseMs ?? RETRY_BASE_MS;
    this.backoff = this.retryBaseMs;
    this.clock = options.clock ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** A unit's state; undefined if never submitted (or forgotten). */
  state(id: string): UnitState | undefined {
    return this.units.get(id)?.state;
  }

  settled(id: string): boolean {
    const s = this.state(id);
    return s === 'delivered' || s === 'dropped';
  }

  /** Spans waiting to be delivered now (a gauge). */
  get pending(): number {
    return this.pendingSpans;
  }

  /**
   * Hands a unit over; `build` runs only if the unit is new. 'full' when MAX_PENDING_SPANS are waiting: the
   * caller keeps what the unit is built from and submits it again later. Never waits.
   */
  submit(jobKey: string, id: string, build: () => ReadableSpan[]): 'taken' | 'known' | 'full' {
    this.sweep();
    if (this.units.has(id)) return 'known';
    if (this.stopped || this.pendingSpans >= this.maxPendingSpans) return 'full';
    const spans = build();
    const unit: Unit = {
      id,
      jobKey,
      spans,
      submittedAt: this.clock(),
      state: 'pending',
      settledBy: [],
      acceptedSpans: new Set(),
    };
    this.units.set(id, unit);
    if (spans.length === 0) {
      unit.state = 'delivered';
      return 'taken';
    }
    this.queue.push(unit);
    this.pendingSpans += spans.length;
    void this.pump();
    return 'taken';
  }

  /** Reports to `observer` from now on (metrics are set up after delivery). */
  observe(observer: DeliveryObserver): void {
    this.observer = observer;
  }

  /**
   * Forgets a settled unit once what it was built from is gone (a released pod); a pending one stays. Not at
   * once: a reconcile on a cache that does not show the release yet would see the pod still tracked, take its
   * unit for new, and deliver it twice. After FORGET_GRACE_MS every cache shows it.
   */
  forget(id: string): void {
    const unit = this.units.get(id);
    if (unit && unit.state !== 'pending') unit.forgetAt ??= this.clock() + FORGET_GRACE_MS;
  }

  /** Drops the units whose grace has passed (at most every SWEEP_EVERY_MS; memory stays bounded by the rate). */
  private sweep(): void {
    const now = this.clock();
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    for (const [id, unit] of this.units)
      if (unit.forgetAt !== undefined && unit.forgetAt <= now) this.units.delete(id);
  }

  /** The job is gone: its news and settled units go too (pending ones finish on their own). */
  forgetJob(jobKey: string): void {
    this.books.delete(jobKey);
    for (const [id, unit] of this.units)
      if (unit.jobKey === jobKey && unit.state !== 'pending') this.units.delete(id);
  }

  /** What the job's next status write should record; taken once (TracingHooks keeps it until the write lands). */
  takeNews(jobKey: string): JobNews {
    const book = this.books.get(jobKey);
    if (!book) return { dropped: 0, delayed: false };
    const news: JobNews = { dropped: book.dropped, delayed: book.delayedNow && !book.delayedSaid };
    book.dropped = 0;
    if (news.delayed) book.delayedSaid = true;
    if (!book.delayedNow) this.books.delete(jobKey);
    return news;
  }

  /** Stops the loop; what is pending stays undelivered (its pods and status say so to the next leader). */
  stop(): void {
    this.stopped = true;
  }

  async shutdown(): Promise<void> {
    this.stop();
    await Promise.all(this.options.exporters.map((e) => e.shutdown().catch(() => undefined)));
  }

  private book(jobKey: string): JobBook {
    let book = this.books.get(jobKey);
    if (!book) {
      book = { dropped: 0, delayedSaid: false, delayedNow: false };
      this.books.set(jobKey, book);
    }
    return book;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.stopped && this.queue.length > 0) await this.deliverNext();
    } finally {
      this.running = false;
    }
  }

  /**
   * Takes units off the front of the queue, up to one request's worth of spans, and sends each exporter what
   * it has not accepted yet. Units every exporter accepted are delivered; units refused for good are dropped;
   * the rest go back to the front, and after a backoff the next request is formed again (with the units that
   * came meanwhile), until their --span-delivery-timeout passes.
   */
  private async deliverNext(): Promise<void> {
    const taken: Unit[] = [];
    let spans = 0;
    while (
      this.queue.length > 0 &&
      (taken.length === 0 || spans + this.queue[0]!.spans.length <= this.batchSize)
    ) {
      const unit = this.queue.shift()!;
      taken.push(unit);
      spans += unit.spans.length;
    }
    for (const [e, exporter] of this.options.exporters.entries()) {
      // Each exporter gets what it has neither accepted nor refused for good, span by span: a split request
      // half accepted sends only the other half again.
      const toSend = taken.flatMap((u) =>
        u.settledBy[e] ? [] : u.spans.filter((s) => !u.acceptedSpans.has(`${e}:${spanKey(s)}`)),
      );
      const accepted = new Set<ReadableSpan>();
      const lost = new Map<ReadableSpan, DropReason>();
      for (const batch of exportBatches(toSend, this.batchSize, this.maxBatchBytes)) {
        await this.send(exporter, batch, accepted, lost);
      }
      for (const unit of taken) {
        if (unit.settledBy[e]) continue;
        for (const sp of unit.spans) if (accepted.has(sp)) unit.acceptedSpans.add(`${e}:${spanKey(sp)}`);
        const reason = unit.spans.map((sp) => lost.get(sp)).find((r) => r !== undefined);
        if (reason) {
          unit.lost ??= reason; // refused for good by this exporter; the others still get it
          unit.settledBy[e] = true;
        } else if (unit.spans.every((sp) => unit.acceptedSpans.has(`${e}:${spanKey(sp)}`))) {
          unit.settledBy[e] = true;
        }
      }
    }
    const now = this.clock();
    const latencies: number[] = [];
    const settled: Unit[] = [];
    const retry: Unit[] = [];
    for (const unit of taken) {
      if (this.options.exporters.some((_, e) => !unit.settledBy[e])) {
        // Stopping: what is pending stays so (its pods and status say so to the next leader).
        if (this.stopped || now < unit.submittedAt + this.timeoutMs) {
          retry.push(unit);
          continue;
        }
        unit.lost ??= 'timeout';
      }
      settled.push(unit);
    }
    let delivered = 0;
    for (const unit of settled) {
      this.pendingSpans -= unit.spans.length;
      if (!unit.lost) {
        unit.state = 'delivered';
        delivered += unit.spans.length;
        for (let i = 0; i < unit.spans.length; i++) latencies.push(now - unit.submittedAt);
      } else {
        unit.state = 'dropped';
        // The whole unit counts as dropped: part of an attempt's or a job's spans is not what was promised.
        this.book(unit.jobKey).dropped += unit.spans.length;
        this.observer?.dropped(unit.spans.length, unit.lost);
      }
      // Settled: the spans and what each exporter accepted leave memory; the state stays until forgotten.
      unit.spans = [];
      unit.acceptedSpans.clear();
    }
    if (delivered > 0) this.observer?.delivered(delivered, latencies);
    const deliveredIds = settled.filter((u) => u.state === 'delivered').map((u) => u.id);
    if (deliveredIds.length > 0) this.options.onDelivered?.(deliveredIds);
    for (const jobKey of new Set(settled.map((u) => u.jobKey))) {
      const book = this.books.get(jobKey);
      if (book) {
        // Moving again: a later delay is said again.
        book.delayedNow = false;
        book.delayedSaid = false;
      }
      this.options.onNews(jobKey);
    }
    if (retry.length > 0) {
      this.queue.unshift(...retry);
      if (this.stopped) return;
      this.noteDelay(retry);
      await this.sleep(this.backoff);
      this.backoff = Math.min(this.backoff * 2, RETRY_MAX_MS);
    } else {
      this.backoff = this.retryBaseMs;
    }
  }

  /**
   * One request to one exporter; a request refused as too large is split in halves down to single spans.
   * Records each span's outcome; says whether a transient failure left some unaccepted.
   */
  private async send(
    exporter: SpanExporter,
    batch: ReadableSpan[],
    accepted: Set<ReadableSpan>,
    lost: Map<ReadableSpan, DropReason>,
  ): Promise<'ok' | 'transient'> {
    const error = await exportOnce(exporter, batch);
    if (error === undefined) {
      this.endStreak();
      for (const s of batch) accepted.add(s);
      return 'ok';
    }
    const kind = classifyExportError(error);
    this.observer?.failed(batch.length, kind);
    this.startStreak(exporter, error, kind);
    if (kind === 'tooLarge' && batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      const first = await this.send(exporter, batch.slice(0, half), accepted, lost);
      const second = await this.send(exporter, batch.slice(half), accepted, lost);
      return first === 'transient' || second === 'transient' ? 'transient' : 'ok';
    }
    if (kind === 'transient') return 'transient';
    for (const s of batch) lost.set(s, kind);
    return 'ok';
  }

  /** Jobs whose units have waited past DELIVERY_DELAYED_AFTER_MS hear of it (a Warning Event, once). */
  private noteDelay(units: Unit[]): void {
    const now = this.clock();
    for (const unit of units) {
      if (now - unit.submittedAt < DELIVERY_DELAYED_AFTER_MS) continue;
      const book = this.book(unit.jobKey);
      if (!book.delayedNow && !book.delayedSaid) {
        book.delayedNow = true;
        this.options.onNews(unit.jobKey);
      }
      book.delayedNow = true;
    }
  }

  private startStreak(exporter: SpanExporter, error: unknown, kind: ExportFailure): void {
    if (this.failureStreak++ > 0) return;
    this.streakStartedAt = this.clock();
    this.options.log.warn(
      { exporter: exporter.constructor.name, kind, err: describe(error) },
      kind === 'transient'
        ? 'span delivery failing; retrying (jobs go on; spans are dropped after --span-delivery-timeout)'
        : 'span delivery refused; those spans are dropped',
    );
  }

  private endStreak(): void {
    if (this.failureStreak === 0) return;
    this.options.log.info(
      { failedRequests: this.failureStreak, ms: this.clock() - this.streakStartedAt },
      'span delivery recovered',
    );
    this.failureStreak = 0;
  }
}
