// The hostile table (test/hostile/*.yaml): malformed and hostile MapReduceJobs applied with kubectl, all at once,
// beside a healthy job. Each is refused by the API server naming the field, fails with a stable reason, its
// message and an Event, or runs as a plain job; the healthy job finishes and the operator never exits.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { GROUP, PLURAL, VERSION } from '../../src/api/types.js';
import type { MapReduceJob } from '../../src/api/types.js';
import { cluster, kubeconfigPath, REPO_ROOT, sleep, useTestNamespace } from '../support/cluster.js';
import { Jaeger } from '../support/jaeger.js';
import { createJob, getJob, patchJobSpec, waitForPhase } from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { startOperator, STARTED } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';

const HOSTILE_DIR = path.join(REPO_ROOT, 'test', 'hostile');
/** kubectl processes at once: enough to apply the table in seconds, few enough for a 2-core machine. */
const APPLY_CONCURRENCY = 8;
/** The slowest accepted case ends at its 3 s deadline; the rest wait on reconciles alone. */
const OUTCOME_WAIT_MS = 60_000;
const POLL_MS = 500;
/** pino's level numbers. */
const LOG_LEVEL_ERROR = 50;
const LOG_LEVEL_FATAL = 60;
const HEALTHY_ITEMS = 20;
/** One 2 s pod at a time (40 s at least) outlasts applying the table; then the rest go 10 at a time. */
const HEALTHY_POD_DURATION = '2s';
const HEALTHY_PARALLELISM_AFTER = 10;

const run = promisify(execFile);

interface Case {
  /** The file name without .yaml. */
  name: string;
  file: string;
  /** The MapReduceJob the file creates (its last one). */
  job: string;
  /** The `# expect:` line, verbatim. */
  expect: string;
  /** Why the operator cannot meet the expectation yet: the case is listed as pending and not applied. */
  gap?: string;
}

/** `# expect: refused <field> "<text>"`, `failed <Reason> "<text>"` or `succeeded <items> [event <Reason>]`. */
type Expectation =
  | { kind: 'refused'; field: string; text: string }
  | { kind: 'failed'; reason: string; text: string }
  | { kind: 'succeeded'; items: number; event?: string };

/** A double-quoted text is a JSON string; a single-quoted one is taken verbatim. */
function unquote(s: string): string {
  if (s.startsWith('"')) return JSON.parse(s) as string;
  if (s.startsWith("'") && s.endsWith("'")) return s.slice(1, -1);
  throw new Error(`expected a quoted text, got ${s}`);
}

function parseExpectation(line: string): Expectation {
  const m = /^(refused|failed) (\S+) (.+)$/.exec(line);
  if (m) {
    const text = unquote(m[3]!);
    return m[1] === 'refused'
      ? { kind: 'refused', field: m[2]!, text }
      : { kind: 'failed', reason: m[2]!, text };
  }
  const s = /^succeeded (\d+)(?: event (\S+))?$/.exec(line);
  if (s) return { kind: 'succeeded', items: Number(s[1]), ...(s[2] ? { event: s[2] } : {}) };
  throw new Error(`cannot read the expectation "${line}"`);
}

function loadCases(): Case[] {
  return readdirSync(HOSTILE_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => {
      const text = readFileSync(path.join(HOSTILE_DIR, file), 'utf8');
      const expectLine = /^# expect: (.+)$/m.exec(text)?.[1];
      if (!expectLine) throw new Error(`${file} has no "# expect:" line`);
      parseExpectation(expectLine); // a typo fails loudly here, not as a confusing diff
      // Read with a pattern, not a YAML parser: the cases nest deeper than a parser's own limits.
      const jobDoc = text.split(/^---$/m).findLast((d) => /^kind: MapReduceJob$/m.test(d)) ?? '';
      const job = /^ {2}name: (\S+)$/m.exec(jobDoc)?.[1];
      if (!job) throw new Error(`${file} has no MapReduceJob with a name`);
      const gap = /^# gap: (.+)$/m.exec(text)?.[1];
      return { name: file.replace(/\.yaml$/, ''), file, job, expect: expectLine, ...(gap ? { gap } : {}) };
    });
}

/** Runs `fn` over `items`, at most `limit` at once. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Applies a case file; the error text when kubectl (that is, the API server) refused part of it. */
async function apply(namespace: string, c: Case): Promise<string | undefined> {
  try {
    await run('kubectl', [
      '--kubeconfig',
      kubeconfigPath(),
      'apply',
      '-n',
      namespace,
      '-f',
      path.join(HOSTILE_DIR, c.file),
    ]);
    return undefined;
  } catch (err) {
    return (err as { stderr?: string }).stderr?.trim() || String(err);
  }
}

async function listJobs(namespace: string): Promise<Map<string, MapReduceJob>> {
  const list = (await cluster().custom.listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
  })) as { items: MapReduceJob[] };
  return new Map(list.items.map((j) => [j.metadata.name!, j]));
}

/** Event reasons by the name of the object they are about. */
async function eventReasons(namespace: string): Promise<Map<string, Set<string>>> {
  const reasons = new Map<string, Set<string>>();
  for (const e of (await cluster().core.listNamespacedEvent({ namespace })).items) {
    const name = e.involvedObject.name!;
    if (!reasons.has(name)) reasons.set(name, new Set());
    reasons.get(name)!.add(e.reason ?? '');
  }
  return reasons;
}

/** What happened to an accepted job: undefined when it is what was expected, else what it was. */
function mismatchOf(
  expected: Expectation,
  job: MapReduceJob | undefined,
  events: Set<string> | undefined,
  namespace: string,
): string | undefined {
  const phase = job?.status?.phase;
  const failed = job?.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
  if (phase === 'Failed' && failed) {
    const event = events?.has(failed.reason) ? '' : ' (no Event)';
    const matches =
      expected.kind === 'failed' &&
      failed.reason === expected.reason &&
      failed.message.includes(expected.text.replaceAll('{namespace}', namespace));
    return matches && !event
      ? undefined
      : `failed ${failed.reason} ${JSON.stringify(failed.message)}${event}`;
  }
  if (phase === 'Succeeded') {
    const items = job!.status?.succeededItems;
    const wanted = expected.kind === 'succeeded' ? expected.event : undefined;
    const event = wanted === undefined || events?.has(wanted) ? '' : ` (no ${wanted} event)`;
    const matches = expected.kind === 'succeeded' && items === expected.items;
    return matches && !event ? undefined : `succeeded ${items}${event}`;
  }
  return `not finished: phase ${phase ?? 'none'}, events ${[...(events ?? [])].join(',') || 'none'}`;
}

/** What the API server said of a refused file: undefined when it named the expected field and text. */
function refusalMismatchOf(expected: Expectation, stderr: string): string | undefined {
  const matches =
    expected.kind === 'refused' && stderr.includes(expected.field) && stderr.includes(expected.text);
  return matches ? undefined : `refused: ${stderr}`;
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

/** The operator's resident memory now and at its peak, in MiB (/proc/<pid>/status). */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]);
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}

describe('hostile jobs', function () {
  const ns = useTestNamespace('hostile');
  let operator: OperatorProcess | undefined;
  let jaeger: Jaeger | undefined;
  const cases = loadCases();

  afterEach(async function () {
    await operator?.kill();
    await jaeger?.stop();
  });

  for (const c of cases.filter((x) => x.gap)) it.skip(`${c.name}: ${c.gap}`);

  it(`meets each case's expectation beside a healthy job (${cases.filter((c) => !c.gap).length} cases)`, async function () {
    this.timeout(170_000);
    // HOSTILE_CASES=<regex> runs only the cases it matches (to look at one closely).
    const only = process.env.HOSTILE_CASES ? new RegExp(process.env.HOSTILE_CASES) : undefined;
    const active = cases.filter((c) => !c.gap && (!only || only.test(c.name)));
    if (!only) expect(active.length).to.be.at.least(60);
    // Tracing on, so the hostile telemetry fields go through span export too.
    jaeger = await Jaeger.start();
    operator = await startOperator(ns.name, [], STARTED, {
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpGrpcEndpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    });
    await createJob(
      ns.name,
      makeJob('healthy')
        .items(Array.from({ length: HEALTHY_ITEMS }, (_, i) => `item ${i}`))
        .parallelism(1)
        .mapAnnotation('sim.mapreduce.dev/duration', HEALTHY_POD_DURATION)
        .reduce('sum')
        .obj(),
    );
    await waitForPhase(ns.name, 'healthy', ['Running']);
    const before = memoryOf(operator.proc.pid!);

    const applyStart = Date.now();
    const refusals = await pool(active, APPLY_CONCURRENCY, (c) => apply(ns.name, c));
    const applyMs = Date.now() - applyStart;
    // Still running after the last hostile file went in: it is served beside all of them. Now it may hurry.
    expect((await getJob(ns.name, 'healthy')).status?.phase).to.equal('Running');
    await patchJobSpec(ns.name, 'healthy', { map: { parallelism: HEALTHY_PARALLELISM_AFTER } });

    const table = active.map((c, i) => ({ c, expected: parseExpectation(c.expect), refusal: refusals[i] }));
    const accepted = table.filter((t) => t.refusal === undefined);
    // The accepted jobs end, each with the Event that says so (written just after the status), or the wait
    // runs out and the diff below says where each one is.
    let jobs = new Map<string, MapReduceJob>();
    let events = new Map<string, Set<string>>();
    const deadline = Date.now() + OUTCOME_WAIT_MS;
    for (;;) {
      jobs = await listJobs(ns.name);
      events = await eventReasons(ns.name);
      const settled = accepted.every(({ c, expected }) => {
        const status = jobs.get(c.job)?.status;
        if (status?.phase !== 'Failed' && status?.phase !== 'Succeeded') return false;
        const reason = status.conditions?.find((x) => x.type === 'Failed')?.reason;
        const event = reason ?? (expected.kind === 'succeeded' ? expected.event : undefined);
        return event === undefined || events.get(c.job)?.has(event) === true;
      });
      if (settled || Date.now() > deadline || operator.proc.exitCode !== null) break;
      await sleep(POLL_MS);
    }
    expect(operator.proc.exitCode, 'the operator exited').to.equal(null);

    // Case name -> what happened, for the cases that differ from their expectation only, so the diff stays
    // readable (mocha leaves out the diff of large objects).
    const differing = table.flatMap(({ c, expected, refusal }) => {
      const mismatch =
        refusal !== undefined
          ? refusalMismatchOf(expected, refusal)
          : mismatchOf(expected, jobs.get(c.job), events.get(c.job), ns.name);
      return mismatch === undefined ? [] : [{ name: c.name, expect: c.expect, mismatch }];
    });
    expect(Object.fromEntries(differing.map((d) => [d.name, d.mismatch]))).to.deep.equal(
      Object.fromEntries(differing.map((d) => [d.name, d.expect])),
    );

    const healthy = await waitForPhase(ns.name, 'healthy', ['Succeeded', 'Failed']);
    expect(healthy.status).to.deep.include({
      phase: 'Succeeded',
      succeededItems: HEALTHY_ITEMS,
      result: 'sum',
    });

    const after = memoryOf(operator.proc.pid!);
    expect(operator.proc.exitCode, 'the operator exited').to.equal(null);
    expect(operator.logs.filter((l) => Number(l.level) >= LOG_LEVEL_FATAL)).to.deep.equal([]);
    if (process.env.HOSTILE_REPORT) {
      const ranMs = Date.parse(healthy.status!.completionTime!) - Date.parse(healthy.status!.startTime!);
      const errors = operator.logs
        .filter((l) => Number(l.level) >= LOG_LEVEL_ERROR)
        .map((l) => `${String(l.msg)} ${String(l.job)}`);
      process.stdout.write(
        `operator memory (MiB): before the hostile set RSS ${before.rss} peak ${before.peak}, ` +
          `after RSS ${after.rss} peak ${after.peak}; ${active.length} files applied in ${applyMs} ms; ` +
          `healthy job ran ${ranMs} ms; errors logged: ${JSON.stringify(countBy(errors))}\n`,
      );
    }
  });
});
