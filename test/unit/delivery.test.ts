// SpanDelivery with scripted exporters, a clock that only its sleep moves, and recording hooks: every retry,
// split, drop and log line is decided without real waiting.
import { expect } from 'chai';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import {
  FORGET_GRACE_MS,
  classifyExportError,
  DELIVERY_DELAYED_AFTER_MS,
  SpanDelivery,
} from '../../src/telemetry/delivery.js';
import type {
  DeliveryOptions,
  DropReason,
  DeliveryObserver,
  ExportFailure,
  JobNews,
  UnitState,
} from '../../src/telemetry/delivery.js';
import { estimatedSpanBytes, exportBatches } from '../../src/telemetry/exporter.js';

const JOB = 'ns/wc';
const OTHER_JOB = 'ns/other';
const RESOURCE = resourceFromAttributes({ 'service.name': 'test' });
const NO_NEWS: JobNews = { dropped: 0, delayed: false };

/** A finished span with what export reads; `n` names it and makes its id. */
function span(n: number, attributes: Attributes = {}): ReadableSpan {
  const context = {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: (n + 1).toString(16).padStart(16, '0'),
    traceFlags: 1,
  };
  return {
    name: `s${n}`,
    kind: SpanKind.INTERNAL,
    spanContext: () => context,
    startTime: [1_700_000_000, 0],
    endTime: [1_700_000_001, 0],
    duration: [1, 0],
    status: { code: SpanStatusCode.UNSET },
    attributes,
    links: [],
    events: [],
    ended: true,
    resource: RESOURCE,
    instrumentationScope: { name: 'test' },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

function spans(count: number, from = 0): ReadableSpan[] {
  return Array.from({ length: count }, (_, i) => span(from + i));
}

/** An error as the exporters report one: gRPC's numeric code, HTTP's status, or Node's string code. */
function coded(code: number | string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

const UNAVAILABLE = coded(14, '14 UNAVAILABLE: No connection established');
const UNAUTHENTICATED = coded(16, '16 UNAUTHENTICATED: bad token');
const GRPC_TOO_LARGE = coded(
  8,
  '8 RESOURCE_EXHAUSTED: Received message larger than max (5000000 vs. 4194304)',
);
const HTTP_TOO_LARGE = coded(413, 'Payload Too Large');
const CONNECTION_REFUSED = coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:4317');

/** One answer to an export request: accepted (undefined), an error, FAILED without an error, or a throw. */
type Answer = Error | undefined | 'failedWithoutError' | { thrown: Error };

/** Answers each request by its spans and its number; records the span names of every request. */
class ScriptedExporter implements SpanExporter {
  readonly requests: string[][] = [];
  shutdowns = 0;

  constructor(private readonly answer: (request: ReadableSpan[], n: number) => Answer) {}

  export(request: ReadableSpan[], done: (result: ExportResult) => void): void {
    const n = this.requests.push(request.map((s) => s.name)) - 1;
    const answer = this.answer(request, n);
    if (answer === undefined) done({ code: ExportResultCode.SUCCESS });
    else if (answer === 'failedWithoutError') done({ code: ExportResultCode.FAILED });
    else if (answer instanceof Error) done({ code: ExportResultCode.FAILED, error: answer });
    else throw answer.thrown;
  }

  shutdown(): Promise<void> {
    this.shutdowns++;
    return Promise.resolve();
  }

  sizes(): number[] {
    return this.requests.map((r) => r.length);
  }
}

/** Answers requests in order from `answers`; accepts every request after them. */
function scripted(...answers: Answer[]): ScriptedExporter {
  return new ScriptedExporter((_, n) => answers[n]);
}

/** Refuses as too large, with `refusal`, every request of more than `max` spans. */
function acceptingAtMost(max: number, refusal: Error = GRPC_TOO_LARGE): ScriptedExporter {
  return new ScriptedExporter((request) => (request.length > max ? refusal : undefined));
}

/** Holds every request until released, then answers it: accepted, or with `error`. */
class GatedExporter implements SpanExporter {
  readonly requests: string[][] = [];
  private readonly held: ((result: ExportResult) => void)[] = [];

  export(request: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.requests.push(request.map((s) => s.name));
    this.held.push(done);
  }

  release(error?: Error): void {
    for (const done of this.held.splice(0))
      done(error ? { code: ExportResultCode.FAILED, error } : { code: ExportResultCode.SUCCESS });
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Lets the background loop run (InMemorySpanExporter answers on a timer) until `done` holds. */
async function until(done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 100 && !done(); turn++) await new Promise((r) => setTimeout(r, 0));
  expect(done(), 'the delivery loop came to rest').to.be.true;
}

/** A few turns of the event loop: whatever the loop would do now, it has done. */
async function turns(): Promise<void> {
  for (let turn = 0; turn < 5; turn++) await new Promise((r) => setTimeout(r, 0));
}

interface LogLine {
  level: 'warn' | 'info';
  fields: object;
  message: string;
}

class RecordingObserver implements DeliveryObserver {
  readonly calls: { delivered?: number; latenciesMs?: number[]; failed?: ExportFailure; dropped?: string }[] =
    [];
  delivered(spans: number, latenciesMs: number[]): void {
    this.calls.push({ delivered: spans, latenciesMs });
  }
  failed(spans: number, kind: ExportFailure): void {
    this.calls.push({ failed: kind });
  }
  dropped(spans: number, why: DropReason): void {
    this.calls.push({ dropped: `${spans} ${why}` });
  }
}

/** One SpanDelivery whose clock moves only when it sleeps; records news, log lines and observations. */
class Rig {
  now = 0;
  readonly slept: number[] = [];
  readonly news: string[] = [];
  readonly log: LogLine[] = [];
  readonly observer = new RecordingObserver();
  readonly delivery: SpanDelivery;
  /** Called after each sleep, at the new time: units that arrive while delivery waits to retry. */
  afterSleep: (now: number) => void = () => undefined;

  constructor(exporters: SpanExporter[], options: Partial<DeliveryOptions> = {}) {
    this.delivery = new SpanDelivery({
      exporters,
      retryBaseMs: 100,
      onNews: (jobKey) => this.news.push(jobKey),
      log: {
        warn: (fields, message) => this.log.push({ level: 'warn', fields, message }),
        info: (fields, message) => this.log.push({ level: 'info', fields, message }),
      },
      observer: this.observer,
      clock: () => this.now,
      sleep: (ms) => {
        this.slept.push(ms);
        this.now += ms;
        this.afterSleep(this.now);
        return Promise.resolve();
      },
      ...options,
    });
  }

  submit(id: string, unit: ReadableSpan[], jobKey = JOB): 'taken' | 'known' | 'full' {
    return this.delivery.submit(jobKey, id, () => unit);
  }

  /** Until nothing is pending. */
  idle(): Promise<void> {
    return until(() => this.delivery.pending === 0);
  }
}

describe('classifyExportError', function () {
  const cases: { name: string; err: unknown; kind: ExportFailure }[] = [
    { name: 'gRPC UNAUTHENTICATED (16)', err: UNAUTHENTICATED, kind: 'permanent' },
    { name: 'gRPC INVALID_ARGUMENT (3)', err: coded(3, '3 INVALID_ARGUMENT'), kind: 'permanent' },
    { name: 'gRPC UNAVAILABLE (14)', err: UNAVAILABLE, kind: 'transient' },
    { name: 'gRPC DEADLINE_EXCEEDED (4)', err: coded(4, '4 DEADLINE_EXCEEDED'), kind: 'transient' },
    { name: 'gRPC RESOURCE_EXHAUSTED (8), message too large', err: GRPC_TOO_LARGE, kind: 'tooLarge' },
    {
      name: 'gRPC RESOURCE_EXHAUSTED (8), a quota',
      err: coded(8, '8 RESOURCE_EXHAUSTED: rate limited'),
      kind: 'transient',
    },
    { name: 'HTTP 400', err: coded(400, 'Bad Request'), kind: 'permanent' },
    { name: 'HTTP 401', err: coded(401, 'Unauthorized'), kind: 'permanent' },
    { name: 'HTTP 500', err: coded(500, 'Internal Server Error'), kind: 'permanent' },
    { name: 'HTTP 413', err: HTTP_TOO_LARGE, kind: 'tooLarge' },
    { name: 'HTTP 429', err: coded(429, 'Too Many Requests'), kind: 'transient' },
    { name: 'HTTP 502', err: coded(502, 'Bad Gateway'), kind: 'transient' },
    { name: 'HTTP 503', err: coded(503, 'Service Unavailable'), kind: 'transient' },
    { name: 'HTTP 504', err: coded(504, 'Gateway Timeout'), kind: 'transient' },
    { name: 'connection refused (a string code)', err: CONNECTION_REFUSED, kind: 'transient' },
    { name: 'an error without a code', err: new Error('socket hang up'), kind: 'transient' },
    { name: 'not an error at all', err: 'timeout', kind: 'transient' },
    { name: 'undefined', err: undefined, kind: 'transient' },
  ];
  for (const tc of cases) {
    it(`${tc.name}: ${tc.kind}`, function () {
      expect(classifyExportError(tc.err)).to.equal(tc.kind);
    });
  }
});

describe('exportBatches', function () {
  const size = estimatedSpanBytes(span(0));
  const big = span(9, { payload: 'x'.repeat(10 * size) });
  const cases: {
    name: string;
    spans: ReadableSpan[];
    maxSpans: number;
    maxBytes?: number;
    sizes: number[];
  }[] = [
    { name: 'nothing', spans: [], maxSpans: 2, sizes: [] },
    { name: 'by count', spans: spans(5), maxSpans: 2, sizes: [2, 2, 1] },
    { name: 'by estimated bytes', spans: spans(5), maxSpans: 512, maxBytes: 2.5 * size, sizes: [2, 2, 1] },
    {
      name: 'a span over the byte limit goes alone',
      spans: [span(0), big, span(1)],
      maxSpans: 512,
      maxBytes: 3 * size,
      sizes: [1, 1, 1],
    },
    {
      name: 'the default byte limit holds 512 small spans',
      spans: spans(513),
      maxSpans: 512,
      sizes: [512, 1],
    },
  ];
  for (const tc of cases) {
    it(`cuts ${tc.name}`, function () {
      const batches = exportBatches(tc.spans, tc.maxSpans, tc.maxBytes);
      expect(batches.map((b) => b.length)).to.deep.equal(tc.sizes);
      expect(batches.flat()).to.deep.equal(tc.spans);
    });
  }
});

describe('SpanDelivery', function () {
  it('takes a new unit, knows a submitted one, refuses beyond maxPendingSpans; builds only new units', async function () {
    const gate = new GatedExporter();
    const rig = new Rig([gate], { maxPendingSpans: 3 });
    const built: string[] = [];
    const submit = (id: string, count: number): string =>
      rig.delivery.submit(JOB, id, () => {
        built.push(id);
        return spans(count);
      });
    expect([submit('a', 2), submit('a', 2), submit('b', 2), submit('c', 1), submit('b', 2)]).to.deep.equal([
      'taken',
      'known',
      'taken',
      'full',
      'known',
    ]);
    expect(built).to.deep.equal(['a', 'b']);
    expect(rig.delivery.pending).to.equal(4);
    expect(rig.delivery.state('c')).to.equal(undefined);
    await until(() => {
      gate.release();
      return rig.delivery.pending === 0;
    });
    expect(submit('c', 1)).to.equal('taken');
    expect(built).to.deep.equal(['a', 'b', 'c']);
  });

  it('settles an empty unit at once, without a request', function () {
    const exporter = scripted();
    const rig = new Rig([exporter]);
    expect(rig.submit('a', [])).to.equal('taken');
    expect([rig.delivery.state('a'), rig.delivery.pending, exporter.requests]).to.deep.equal([
      'delivered',
      0,
      [],
    ]);
  });

  it('delivers a unit: its state, the pending count, the job’s news and the observation', async function () {
    const memory = new InMemorySpanExporter();
    const rig = new Rig([memory]);
    rig.now = 1_000;
    expect(rig.submit('a', spans(2))).to.equal('taken');
    expect([rig.delivery.state('a'), rig.delivery.settled('a'), rig.delivery.pending]).to.deep.equal([
      'pending',
      false,
      2,
    ]);
    await rig.idle();
    expect([rig.delivery.state('a'), rig.delivery.settled('a'), rig.delivery.pending]).to.deep.equal([
      'delivered',
      true,
      0,
    ]);
    expect(memory.getFinishedSpans().map((s) => s.name)).to.deep.equal(['s0', 's1']);
    expect(rig.news).to.deep.equal([JOB]);
    expect(rig.observer.calls).to.deep.equal([{ delivered: 2, latenciesMs: [0, 0] }]);
    expect(rig.delivery.takeNews(JOB)).to.deep.equal(NO_NEWS);
    expect(rig.log).to.deep.equal([]);
  });

  it('reports to an observer given later', async function () {
    const rig = new Rig([scripted()], { observer: undefined });
    const later = new RecordingObserver();
    rig.delivery.observe(later);
    rig.submit('a', spans(3));
    await rig.idle();
    expect(later.calls).to.deep.equal([{ delivered: 3, latenciesMs: [0, 0, 0] }]);
    expect(rig.observer.calls).to.deep.equal([]);
  });

  const outcomes: {
    name: string;
    answers: Answer[];
    requests: number;
    slept: number[];
    state: UnitState;
    observed: RecordingObserver['calls'];
    news: JobNews;
  }[] = [
    {
      name: 'transient twice, then accepted',
      answers: [UNAVAILABLE, coded(503, 'Service Unavailable')],
      requests: 3,
      slept: [100, 200],
      state: 'delivered',
      observed: [{ failed: 'transient' }, { failed: 'transient' }, { delivered: 2, latenciesMs: [300, 300] }],
      news: NO_NEWS,
    },
    {
      name: 'connection refused, then accepted',
      answers: [CONNECTION_REFUSED],
      requests: 2,
      slept: [100],
      state: 'delivered',
      observed: [{ failed: 'transient' }, { delivered: 2, latenciesMs: [100, 100] }],
      news: NO_NEWS,
    },
    {
      name: 'the exporter throws, then accepts',
      answers: [{ thrown: new Error('boom') }],
      requests: 2,
      slept: [100],
      state: 'delivered',
      observed: [{ failed: 'transient' }, { delivered: 2, latenciesMs: [100, 100] }],
      news: NO_NEWS,
    },
    {
      name: 'FAILED without an error, then accepted',
      answers: ['failedWithoutError'],
      requests: 2,
      slept: [100],
      state: 'delivered',
      observed: [{ failed: 'transient' }, { delivered: 2, latenciesMs: [100, 100] }],
      news: NO_NEWS,
    },
    {
      name: 'refused for good (gRPC UNAUTHENTICATED)',
      answers: [UNAUTHENTICATED],
      requests: 1,
      slept: [],
      state: 'dropped',
      observed: [{ failed: 'permanent' }, { dropped: '2 permanent' }],
      news: { dropped: 2, delayed: false },
    },
    {
      name: 'refused for good after a transient error (HTTP 400)',
      answers: [coded(429, 'Too Many Requests'), coded(400, 'Bad Request')],
      requests: 2,
      slept: [100],
      state: 'dropped',
      observed: [{ failed: 'transient' }, { failed: 'permanent' }, { dropped: '2 permanent' }],
      news: { dropped: 2, delayed: false },
    },
  ];
  for (const tc of outcomes) {
    it(`settles a unit ${tc.name}`, async function () {
      const exporter = scripted(...tc.answers);
      const rig = new Rig([exporter]);
      rig.submit('a', spans(2));
      await rig.idle();
      expect({
        requests: exporter.requests.length,
        slept: rig.slept,
        state: rig.delivery.state('a'),
        settled: rig.delivery.settled('a'),
        observed: rig.observer.calls,
        onNews: rig.news,
        news: rig.delivery.takeNews(JOB),
        newsAgain: rig.delivery.takeNews(JOB),
      }).to.deep.equal({
        requests: tc.requests,
        slept: tc.slept,
        state: tc.state,
        settled: true,
        observed: tc.observed,
        onNews: [JOB],
        news: tc.news,
        newsAgain: NO_NEWS,
      });
    });
  }

  const timeouts: { name: string; submittedAt: number }[] = [
    { name: 'at the start of the clock', submittedAt: 0 },
    { name: 'later: the deadline counts from the unit’s submission', submittedAt: 50_000 },
  ];
  for (const tc of timeouts) {
    it(`drops a unit failing transiently past --span-delivery-timeout, submitted ${tc.name}`, async function () {
      const exporter = new ScriptedExporter(() => UNAVAILABLE);
      const rig = new Rig([exporter], { timeoutMs: 1_000 });
      rig.now = tc.submittedAt;
      rig.submit('a', spans(2));
      await rig.idle();
      expect({
        requests: exporter.requests.length,
        slept: rig.slept,
        now: rig.now - tc.submittedAt,
        state: rig.delivery.state('a'),
        dropped: rig.observer.calls.filter((c) => c.dropped),
        news: rig.delivery.takeNews(JOB),
      }).to.deep.equal({
        // Tried at 0, 100, 300, 700 and 1500 ms: the first failure past the deadline (1000 ms) drops it.
        requests: 5,
        slept: [100, 200, 400, 800],
        now: 1_500,
        state: 'dropped',
        dropped: [{ dropped: '2 timeout' }],
        news: { dropped: 2, delayed: false },
      });
    });
  }

  it('keeps each unit’s own deadline when units that came later join its retries', async function () {
    const exporter = new ScriptedExporter(() => UNAVAILABLE);
    const rig = new Rig([exporter], { timeoutMs: 1_000 });
    const droppedAt: string[] = [];
    rig.delivery.observe({
      delivered: () => undefined,
      failed: () => undefined,
      dropped: (spans, why) => droppedAt.push(`${spans} ${why} at ${rig.now}`),
    });
    rig.afterSleep = (now) => {
      if (now === 100) rig.submit('b', spans(1, 1)); // its deadline: 1100
      if (now === 700) rig.submit('c', spans(1, 2)); // its deadline: 1700
    };
    rig.submit('a', spans(1));
    await rig.idle();
    expect(exporter.requests).to.deep.equal([
      ['s0'],
      ['s0', 's1'],
      ['s0', 's1'],
      ['s0', 's1', 's2'],
      ['s0', 's1', 's2'],
      ['s2'],
    ]);
    expect(droppedAt).to.deep.equal(['1 timeout at 1500', '1 timeout at 1500', '1 timeout at 3100']);
  });

  const splits: {
    name: string;
    spans: number;
    exporter: ScriptedExporter;
    sizes: number[];
    state: UnitState;
    dropped: string[];
  }[] = [
    {
      name: 'accepted whole',
      spans: 4,
      exporter: acceptingAtMost(4),
      sizes: [4],
      state: 'delivered',
      dropped: [],
    },
    {
      name: 'halved once (gRPC)',
      spans: 4,
      exporter: acceptingAtMost(2),
      sizes: [4, 2, 2],
      state: 'delivered',
      dropped: [],
    },
    {
      name: 'halved once (HTTP 413)',
      spans: 4,
      exporter: acceptingAtMost(2, HTTP_TOO_LARGE),
      sizes: [4, 2, 2],
      state: 'delivered',
      dropped: [],
    },
    {
      name: 'halved down to single spans',
      spans: 4,
      exporter: acceptingAtMost(1),
      sizes: [4, 2, 1, 1, 2, 1, 1],
      state: 'delivered',
      dropped: [],
    },
    {
      name: 'an odd count, the larger half first',
      spans: 3,
      exporter: acceptingAtMost(1, HTTP_TOO_LARGE),
      sizes: [3, 2, 1, 1, 1],
      state: 'delivered',
      dropped: [],
    },
    {
      name: 'a single span refused',
      spans: 1,
      exporter: acceptingAtMost(0),
      sizes: [1],
      state: 'dropped',
      dropped: ['1 tooLarge'],
    },
    {
      name: 'every single span refused',
      spans: 2,
      exporter: acceptingAtMost(0, HTTP_TOO_LARGE),
      sizes: [2, 1, 1],
      state: 'dropped',
      dropped: ['2 tooLarge'],
    },
  ];
  for (const tc of splits) {
    it(`splits a request refused as too large: ${tc.name}`, async function () {
      const rig = new Rig([tc.exporter]);
      rig.submit('a', spans(tc.spans));
      await rig.idle();
      expect({
        sizes: tc.exporter.sizes(),
        slept: rig.slept,
        state: rig.delivery.state('a'),
        dropped: rig.observer.calls.flatMap((c) => (c.dropped ? [c.dropped] : [])),
        news: rig.delivery.takeNews(JOB).dropped,
      }).to.deep.equal({
        sizes: tc.sizes,
        slept: [],
        state: tc.state,
        dropped: tc.dropped,
        news: tc.state === 'dropped' ? tc.spans : 0,
      });
    });
  }

  it('sends a request’s halves in order: every span is accepted once', async function () {
    const exporter = acceptingAtMost(1);
    const rig = new Rig([exporter]);
    rig.submit('a', spans(4));
    await rig.idle();
    expect(exporter.requests.filter((r) => r.length === 1).flat()).to.deep.equal(['s0', 's1', 's2', 's3']);
  });

  it('delivers a unit only when every exporter accepted it', async function () {
    const first = new InMemorySpanExporter();
    const second = new GatedExporter();
    const rig = new Rig([first, second]);
    rig.submit('a', spans(2));
    await until(() => second.requests.length === 1);
    expect([first.getFinishedSpans().length, rig.delivery.state('a'), rig.news]).to.deep.equal([
      2,
      'pending',
      [],
    ]);
    second.release();
    await rig.idle();
    expect([rig.delivery.state('a'), rig.news]).to.deep.equal(['delivered', [JOB]]);
  });

  it('retries only the exporter that has not accepted a unit', async function () {
    const first = new InMemorySpanExporter();
    const second = scripted(UNAVAILABLE, UNAVAILABLE);
    const rig = new Rig([first, second]);
    rig.submit('a', spans(2));
    await rig.idle();
    expect({
      first: first.getFinishedSpans().map((s) => s.name),
      second: second.requests,
      state: rig.delivery.state('a'),
    }).to.deep.equal({
      first: ['s0', 's1'],
      second: [
        ['s0', 's1'],
        ['s0', 's1'],
        ['s0', 's1'],
      ],
      state: 'delivered',
    });
  });

  it('drops a unit one exporter refuses, though another accepted it', async function () {
    const first = new InMemorySpanExporter();
    const second = scripted(UNAUTHENTICATED);
    const rig = new Rig([first, second]);
    rig.submit('a', spans(2));
    await rig.idle();
    expect({
      first: first.getFinishedSpans().length,
      second: second.requests.length,
      state: rig.delivery.state('a'),
      news: rig.delivery.takeNews(JOB),
    }).to.deep.equal({ first: 2, second: 1, state: 'dropped', news: { dropped: 2, delayed: false } });
  });

  it('logs a streak of failures once when it starts and once when it ends', async function () {
    const exporter = scripted(UNAVAILABLE, UNAVAILABLE, UNAVAILABLE);
    const rig = new Rig([exporter]);
    rig.submit('a', spans(1));
    await rig.idle();
    rig.submit('b', spans(1, 1));
    await rig.idle();
    expect(rig.log).to.deep.equal([
      {
        level: 'warn',
        fields: { exporter: 'ScriptedExporter', kind: 'transient', err: UNAVAILABLE.message },
        message:
          'span delivery failing; retrying (jobs go on; spans are dropped after --span-delivery-timeout)',
      },
      { level: 'info', fields: { failedRequests: 3, ms: 700 }, message: 'span delivery recovered' },
    ]);
  });

  it('logs a refusal once, and the recovery at the next accepted request', async function () {
    const exporter = scripted(UNAUTHENTICATED);
    const rig = new Rig([exporter]);
    rig.submit('a', spans(1));
    await rig.idle();
    expect(rig.log.map((l) => [l.level, l.message])).to.deep.equal([
      ['warn', 'span delivery refused; those spans are dropped'],
    ]);
    rig.submit('b', spans(1, 1));
    await rig.idle();
    expect(rig.log.slice(1)).to.deep.equal([
      { level: 'info', fields: { failedRequests: 1, ms: 0 }, message: 'span delivery recovered' },
    ]);
  });

  it('tells a job once that its spans are delayed, then that they settled', async function () {
    const recovery = DELIVERY_DELAYED_AFTER_MS + 10_000;
    const exporter = new ScriptedExporter(() => (rig.now < recovery ? UNAVAILABLE : undefined));
    const news: (JobNews & { at: number })[] = [];
    const rig: Rig = new Rig([exporter], {
      onNews: (jobKey) => news.push({ ...rig.delivery.takeNews(jobKey), at: rig.now }),
    });
    rig.submit('a', spans(1));
    await rig.idle();
    // Backoff from 100 ms doubling to 5 s: tries at 0, 100, 300, ... 56300, 61300 (past 60 s), ... 71300.
    expect(news).to.deep.equal([
      { dropped: 0, delayed: true, at: 61_300 },
      { dropped: 0, delayed: false, at: 71_300 },
    ]);
    expect(rig.delivery.state('a')).to.equal('delivered');
  });

  it('sends units that came during a request together in the next, up to batchSize spans', async function () {
    const gate = new GatedExporter();
    const rig = new Rig([gate], { batchSize: 4 });
    rig.submit('a', spans(1));
    rig.submit('b', spans(2, 1));
    rig.submit('c', spans(2, 3));
    rig.submit('d', spans(1, 5));
    await until(() => {
      gate.release();
      return rig.delivery.pending === 0;
    });
    expect(gate.requests).to.deep.equal([['s0'], ['s1', 's2', 's3', 's4'], ['s5']]);
    expect(rig.news).to.deep.equal([JOB, JOB, JOB]);
  });

  it('forgets a settled unit FORGET_GRACE_MS after its release, never a pending one', async function () {
    const gate = new GatedExporter();
    const rig = new Rig([gate]);
    rig.submit('a', spans(1));
    gate.release();
    await until(() => rig.delivery.settled('a'));
    rig.submit('b', spans(1, 1));
    rig.delivery.forget('a');
    rig.delivery.forget('b');
    rig.delivery.forget('never-submitted');
    // Within the grace a stale cache may still show the pod tracked: its unit is still known, not new.
    expect(rig.submit('a', spans(1))).to.equal('known');
    expect([rig.delivery.state('a'), rig.delivery.state('b')]).to.deep.equal(['delivered', 'pending']);
    gate.release();
    await rig.idle();
    rig.delivery.forget('b');
    rig.now += FORGET_GRACE_MS;
    expect(rig.submit('c', spans(1, 2))).to.equal('taken'); // a submit sweeps what is due
    expect([rig.delivery.state('a'), rig.delivery.state('b')]).to.deep.equal([undefined, undefined]);
    expect(rig.submit('a', spans(1))).to.equal('taken'); // forgotten: submitted again, it is new
  });

  it('forgets a job: its news and settled units, not another job’s', async function () {
    const rig = new Rig([
      new ScriptedExporter((request) => (request[0]!.name === 's0' ? UNAUTHENTICATED : undefined)),
    ]);
    rig.submit('a', spans(1));
    rig.submit('b', spans(1, 1), OTHER_JOB);
    await rig.idle();
    rig.delivery.forgetJob(JOB);
    expect({
      a: rig.delivery.state('a'),
      b: rig.delivery.state('b'),
      news: rig.delivery.takeNews(JOB),
    }).to.deep.equal({ a: undefined, b: 'delivered', news: NO_NEWS });
  });

  const stops: { name: string; answer: Error | undefined; inFlight: UnitState }[] = [
    { name: 'accepted', answer: undefined, inFlight: 'delivered' },
    { name: 'refused for good', answer: UNAUTHENTICATED, inFlight: 'dropped' },
    // Fails for now: deliverNext's `&& !this.stopped` drops it as a 'timeout' instead of leaving it pending.
    { name: 'failed transiently', answer: UNAVAILABLE, inFlight: 'pending' },
  ];
  for (const tc of stops) {
    it(`stops: the request under way ${tc.name}, the rest stays pending, nothing new is taken`, async function () {
      const gate = new GatedExporter();
      const rig = new Rig([gate]);
      rig.submit('a', spans(1));
      rig.submit('b', spans(2, 1));
      rig.delivery.stop();
      let built = false;
      const late = rig.delivery.submit(JOB, 'c', () => {
        built = true;
        return spans(1, 3);
      });
      gate.release(tc.answer);
      await turns();
      gate.release();
      await turns();
      expect({
        late,
        built,
        a: rig.delivery.state('a'),
        b: rig.delivery.state('b'),
        pending: rig.delivery.pending,
        requests: gate.requests,
        news: rig.delivery.takeNews(JOB).dropped,
      }).to.deep.equal({
        late: 'full',
        built: false,
        a: tc.inFlight,
        b: 'pending',
        pending: tc.inFlight === 'pending' ? 3 : 2,
        requests: [['s0']],
        news: tc.inFlight === 'dropped' ? 1 : 0,
      });
    });
  }

  it('shuts its exporters down', async function () {
    const exporters = [scripted(), scripted()];
    const rig = new Rig(exporters);
    await rig.delivery.shutdown();
    expect([exporters.map((e) => e.shutdowns), rig.submit('a', spans(1))]).to.deep.equal([[1, 1], 'full']);
  });
});
