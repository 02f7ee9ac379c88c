// One operator, two trace backends at once (OTEL_TRACES_EXPORTER=otlp,zipkin): a real Jaeger over OTLP and a
// real Zipkin over its v2 JSON API each hold the whole trace of a job with retries and a failed item, the same
// spans with the same parents, names and errors.
import { expect } from 'chai';
import type { JsonValue } from '../../src/api/types.js';
import { DEFAULT_SERVICE_NAME, SpanName } from '../../src/telemetry/names.js';
import { useTestNamespace } from '../support/cluster.js';
import { Jaeger, parentOf, tag } from '../support/jaeger.js';
import type { JaegerSpan } from '../support/jaeger.js';
import { createJob, waitForPhase } from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { startOperator, STARTED } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';
import { Zipkin } from '../support/zipkin.js';
import type { ZipkinSpan } from '../support/zipkin.js';

const FAIL_ONCE = [4, 11];
const FAIL_ALWAYS = 17;

/** 20 items: two fail their first attempt only, one fails both of its attempts (exit code 2). */
function twentyItems(): JsonValue[] {
  return Array.from({ length: 20 }, (_, i): JsonValue => {
    if (i === FAIL_ALWAYS) return { i, sim: { exitCode: 2 } };
    if (FAIL_ONCE.includes(i)) return { i, sim: { failAttempts: 1 } };
    return { i };
  });
}

const RETRIES = FAIL_ONCE.length + 1;
/** The job, map and reduce spans, one per map attempt, one reduce attempt. */
const SPANS = 3 + 20 + RETRIES + 1;

/** "index/attempt" of an agent span, from either backend's attributes. */
function attemptOf(index: unknown, attempt: unknown): string {
  return `${String(index)}/${String(attempt)}`;
}

function jaegerAttempt(s: JaegerSpan): string {
  return attemptOf(tag(s, 'mapreduce.item.index'), tag(s, 'mapreduce.attempt'));
}

function zipkinAttempt(s: ZipkinSpan): string {
  return attemptOf(s.tags?.['mapreduce.item.index'], s.tags?.['mapreduce.attempt']);
}

describe('tracing to Jaeger and Zipkin at once', function () {
  const ns = useTestNamespace('zipkin');
  let jaeger: Jaeger;
  let zipkin: Zipkin;
  let operator: OperatorProcess | undefined;

  before(async function () {
    this.timeout(300_000); // the first run builds Jaeger and fetches Zipkin
    [jaeger, zipkin] = await Promise.all([Jaeger.start(), Zipkin.start()]);
  });

  after(async function () {
    await Promise.all([jaeger?.stop(), zipkin?.stop()]);
  });

  afterEach(async function () {
    await operator?.kill();
    operator = undefined;
  });

  it('delivers the whole trace of a job with retries and a failed item to both, span for span', async function () {
    operator = await startOperator(ns.name, [], STARTED, {
      OTEL_TRACES_EXPORTER: 'otlp,zipkin',
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpGrpcEndpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_ZIPKIN_ENDPOINT: zipkin.spansEndpoint,
    });
    expect(operator.logs.map((l) => l.msg)).to.include(
      `tracing on: otlp grpc to ${jaeger.otlpGrpcEndpoint}, zipkin to ${zipkin.spansEndpoint}; root sample ratio 1`,
    );
    await createJob(
      ns.name,
      makeJob('both')
        .items(twentyItems())
        .parallelism(5)
        .backoffLimitPerItem(1)
        .maxFailedItems(1)
        .reduce('total')
        .obj(),
    );
    const job = await waitForPhase(ns.name, 'both', ['Succeeded', 'Failed'], 90_000);
    expect(job.status).to.deep.include({
      phase: 'Succeeded',
      succeededItems: 19,
      failedItems: 1,
      retries: RETRIES,
    });
    const traceId = job.status!.traceID!;
    const [jaegerTrace, zipkinSpans] = await Promise.all([
      jaeger.waitForTrace(traceId, SPANS),
      zipkin.waitForTrace(traceId, SPANS),
    ]);
    expect(jaegerTrace.spans, 'spans in Jaeger').to.have.length(SPANS);
    expect(zipkinSpans, 'spans in Zipkin').to.have.length(SPANS);

    // span id → [name, parent, error] in each backend: the same map.
    const inJaeger = new Map(
      jaegerTrace.spans.map((s) => [s.spanID, [s.operationName, parentOf(s), tag(s, 'error') === true]]),
    );
    const inZipkin = new Map(
      zipkinSpans.map((s) => [s.id, [s.name, s.parentId, s.tags?.error !== undefined]]),
    );
    expect(inJaeger.size, 'no span twice in Jaeger').to.equal(SPANS);
    expect(inZipkin.size, 'no span twice in Zipkin').to.equal(SPANS);
    expect(inZipkin).to.deep.equal(inJaeger);

    const names = zipkinSpans.map((s) => s.name).sort();
    expect(names).to.deep.equal(
      [
        SpanName.Job,
        SpanName.MapPhase,
        SpanName.ReducePhase,
        ...Array<string>(20 + RETRIES + 1).fill(SpanName.Agent),
      ].sort(),
    );
    const failedAttempts = ['4/0', '11/0', '17/0', '17/1'].sort();
    expect(
      jaegerTrace.spans
        .filter((s) => tag(s, 'error') === true)
        .map(jaegerAttempt)
        .sort(),
      'failed attempts in Jaeger',
    ).to.deep.equal(failedAttempts);
    const zipkinFailed = zipkinSpans.filter((s) => s.tags?.error !== undefined);
    expect(zipkinFailed.map(zipkinAttempt).sort(), 'failed attempts in Zipkin').to.deep.equal(failedAttempts);
    for (const s of zipkinFailed) {
      // The status message is the `error` tag; the exception event is an annotation (its name only).
      expect(s.tags, zipkinAttempt(s)).to.deep.include({
        error: s.tags?.['mapreduce.item.index'] === String(FAIL_ALWAYS) ? 'exit code 2' : 'exit code 1',
        'otel.status_code': 'ERROR',
      });
      expect(
        s.annotations?.map((a) => a.value),
        zipkinAttempt(s),
      ).to.include('exception');
    }
    expect(new Set(zipkinSpans.map((s) => s.localEndpoint?.serviceName))).to.deep.equal(
      new Set([DEFAULT_SERVICE_NAME]),
    );
  });
});
