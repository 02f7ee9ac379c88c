// What a person sees of a job's trace: Zipkin's own UI, in headless Chromium, lists the job's, phases' and
// agents' spans with the failed attempts marked as errors. The page is saved as a screenshot (the README's
// picture comes from here: hack/screenshot.sh sets TEST_SCREENSHOT).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Browser } from 'puppeteer-core';
import type { JsonValue } from '../../src/api/types.js';
import { DEFAULT_SERVICE_NAME, SpanName } from '../../src/telemetry/names.js';
import { launchChromium, ZipkinTracePage } from '../support/browser.js';
import { useTestNamespace } from '../support/cluster.js';
import { createJob, waitForPhase } from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { startOperator, STARTED } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';
import { Zipkin } from '../support/zipkin.js';

/** Six lines of a word count; the fifth fails both its attempts (exit code 2). */
const LINES: JsonValue[] = [
  { text: 'the quick brown fox' },
  { text: 'jumps over the lazy dog' },
  { text: 'the dog barks' },
  { text: 'the fox runs' },
  { text: 'a corrupt line', sim: { exitCode: 2 } },
  { text: 'the end' },
];
const FAILING_ITEM = 4;

/** The spans of a job of LINES: 6 items + 1 retry map attempts and one reduce attempt. */
const SPAN_NAMES: string[] = [
  SpanName.Job,
  SpanName.MapPhase,
  SpanName.ReducePhase,
  ...Array<string>(LINES.length + 1 + 1).fill(SpanName.Agent),
];

describe('a job’s trace in the Zipkin UI', function () {
  const ns = useTestNamespace('browser');
  let zipkin: Zipkin;
  let browser: Browser;
  let operator: OperatorProcess | undefined;

  before(async function () {
    this.timeout(300_000); // the first run fetches Zipkin
    zipkin = await Zipkin.start();
    browser = await launchChromium();
  });

  after(async function () {
    await browser?.close();
    await zipkin?.stop();
  });

  afterEach(async function () {
    await operator?.kill();
    operator = undefined;
  });

  it('lists the job, phase and agent spans, the failed attempts marked as errors, and saves a screenshot', async function () {
    this.timeout(180_000); // a loaded 2-core machine has taken a minute over this job
    operator = await startOperator(ns.name, [], STARTED, {
      OTEL_TRACES_EXPORTER: 'zipkin',
      OTEL_EXPORTER_ZIPKIN_ENDPOINT: zipkin.spansEndpoint,
    });
    await createJob(
      ns.name,
      makeJob('wordcount')
        .items(LINES)
        .parallelism(LINES.length)
        .backoffLimitPerItem(1)
        .maxFailedItems(1)
        .reduce('the:5 fox:2 dog:2')
        .obj(),
    );
    const job = await waitForPhase(ns.name, 'wordcount', ['Succeeded', 'Failed'], 90_000);
    expect(job.status).to.deep.include({ phase: 'Succeeded', succeededItems: 5, failedItems: 1, retries: 1 });
    const traceId = job.status!.traceID!;
    const spans = await zipkin.waitForTrace(traceId, SPAN_NAMES.length);
    expect(spans.map((s) => s.name).sort(), 'spans in Zipkin’s API').to.deep.equal([...SPAN_NAMES].sort());

    const page = await ZipkinTracePage.open(
      browser,
      zipkin.traceUrl(traceId),
      DEFAULT_SERVICE_NAME,
      SPAN_NAMES,
    );
    const file =
      process.env.TEST_SCREENSHOT ??
      path.join(mkdtempSync(path.join(tmpdir(), 'browser-test-')), 'zipkin-trace.png');
    try {
      const rows = await page.rows();
      expect(rows, `rows of ${page.url}, no more than the trace's spans`).to.have.length(SPAN_NAMES.length);
      expect(rows[0]!.name, 'the root, at the top').to.equal(SpanName.Job);

      const marked = rows.flatMap((r, i) => (r.error ? [i] : []));
      expect(
        marked.map((i) => rows[i]!.name),
        `rows marked as errors on ${page.url}: the failing item's two attempts`,
      ).to.deep.equal([SpanName.Agent, SpanName.Agent]);
      // Selected, with its events folded away, its tags show in the picture.
      const details = await page.select(marked[0]!);
      await page.fold('Annotation');
      expect(details.tags, 'the first marked row’s tags').to.deep.include({
        error: 'exit code 2',
        'mapreduce.item.index': String(FAILING_ITEM),
      });
    } finally {
      await page.screenshot(file);
      process.stdout.write(`      screenshot: ${file}\n`);
    }
  });
});
