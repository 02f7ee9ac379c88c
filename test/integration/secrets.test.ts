// Nothing secret leaves the operator (issue 15): item payloads, env values and Secret contents never appear in
// what it exports (every span an OTLP receiver got, with its resource), the Events of the namespace, or its logs
// (stdout and stderr, at debug level); and Events carry the API server's message, never client-node's dump of
// the response with its headers.
//
// What counts as secret here: the items (inline, or from a ConfigMap, even a broken one), the templates' env
// values, the Secret their env refers to, and the operator's own OTLP credentials. What does not: an item's id
// (the user names it, by index or spec.input.idPath) and an attempt's termination message (the agent's own
// output: its result, or its failure message, which status and `kubectl mapreduce failed` show on purpose).
// So every item here carries a marker-free message through the kwok simulation (sim.message), and the
// markers reach the operator only as payload, env and Secret.
import { randomBytes } from 'node:crypto';
import { ApiException } from '@kubernetes/client-node';
import type { CoreV1Event, V1EnvFromSource, V1EnvVar, V1PodTemplateSpec } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { JsonValue, MapReduceJob } from '../../src/api/types.js';
import { cluster, createTestNamespace, deleteTestNamespace } from '../support/cluster.js';
import { createJob, jobConfigMaps, jobPods, waitForEvent, waitForPhase } from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { OtlpReceiver } from '../support/otlpreceiver.js';
import type { ReceivedSpan } from '../support/otlpreceiver.js';
import { startOperator, STARTED } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';

const MARKERS = {
  item: marker('item'),
  configMapItem: marker('configmap'),
  envValue: marker('env'),
  secretValue: marker('secret'),
  otlpToken: marker('otlp-token'),
};

function marker(kind: string): string {
  return `SECRET-MARKER-${kind}-${randomBytes(6).toString('hex')}`;
}

/** Text that shows a message is client-node's dump of a response (code, body, headers), not the server's own. */
const RESPONSE_DUMP_TEXT = [
  'content-type',
  'audit-id',
  'x-kubernetes-pf',
  'cache-control',
  'http-code',
  'headers',
];

const SECRET_NAME = 'agent-credentials';
const MISSING_SERVICE_ACCOUNT = 'no-such-account';

/**
 * `n` items holding `payload`: every fourth fails its first attempt, item 9 fails both of its attempts. Each
 * ends with a message of its own that holds no marker (see the top of the file).
 */
function itemsHolding(payload: string, n: number): JsonValue[] {
  return Array.from({ length: n }, (_, i): JsonValue => {
    let sim: JsonValue = { message: `result ${i}` };
    if (i === 9) sim = { exitCode: 3, message: `item ${i} gave up` };
    else if (i % 4 === 3) sim = { failAttempts: 1, message: `item ${i} failed once` };
    return { name: `item-${i}`, payload, sim };
  });
}

/** Env values, an env var from a Secret and all of that Secret, on every container of the job's templates. */
function withSecretEnv(job: MapReduceJob): MapReduceJob {
  const env: V1EnvVar[] = [
    { name: 'API_TOKEN', value: MARKERS.envValue },
    { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: SECRET_NAME, key: 'password' } } },
  ];
  const envFrom: V1EnvFromSource[] = [{ secretRef: { name: SECRET_NAME } }];
  const templates: (V1PodTemplateSpec | undefined)[] = [job.spec.map.template, job.spec.reduce?.template];
  for (const t of templates)
    for (const c of t?.spec?.containers ?? []) Object.assign(c, { env: [...(c.env ?? []), ...env], envFrom });
  return job;
}

/** Keys of the ConfigMap `broken`: documents that fail to parse at a payload. */
const BROKEN_DOCUMENTS: Record<string, string> = {
  // Cut off after a secret value.
  'cut-off': `items:\n  - payload: ${MARKERS.configMapItem}\n   sim: [`,
  // Unquoted values that YAML reads as an alias and a tag: a password may well start with * or !.
  'alias-like-value': `items:\n  - payload: *${MARKERS.configMapItem}\n`,
  'tag-like-value': `items:\n  - payload: !${MARKERS.configMapItem} x\n`,
};

interface JobCase {
  name: string;
  job: () => MapReduceJob;
  /** How it ends: phase, status counts, and the reason of its ending condition (and of an Event). */
  expected: { phase: 'Succeeded' | 'Failed'; reason: string; counts?: Record<string, number> };
  /** Spans of its whole trace (job, phases, one per attempt), for jobs that run. */
  spans?: number;
}

const JOBS: JobCase[] = [
  {
    name: 'inline',
    job: () =>
      makeJob('inline')
        .items(itemsHolding(MARKERS.item, 12))
        .parallelism(4)
        .backoffLimitPerItem(1)
        .maxFailedItems(1)
        .reduce('total')
        .obj(),
    // Items 3, 7 and 11 retried once; item 9 failed twice.
    expected: {
      phase: 'Succeeded',
      reason: 'Completed',
      counts: { succeededItems: 11, failedItems: 1, retries: 4 },
    },
    spans: 3 + 12 + 4 + 1,
  },
  {
    name: 'configmap',
    job: () =>
      makeJob('configmap')
        .configMapInput('input', 'items.json', '$.items')
        .idPath('$.name')
        .parallelism(3)
        .backoffLimitPerItem(1)
        .reduce('total')
        .obj(),
    expected: {
      phase: 'Succeeded',
      reason: 'Completed',
      counts: { succeededItems: 6, failedItems: 0, retries: 1 },
    },
    spans: 3 + 6 + 1 + 1,
  },
  // Documents YAML cannot read, holding a payload: the parse error says where, never what.
  ...Object.keys(BROKEN_DOCUMENTS).map((key): JobCase => ({
    name: key,
    job: () => makeJob(key).configMapInput('broken', key, '$.items').obj(),
    expected: { phase: 'Failed', reason: 'InputInvalid' },
  })),
  {
    // The API server refuses the pod (422): the job fails with the server's message.
    name: 'invalid-template',
    job: () => {
      const job = makeJob('invalid-template').items(itemsHolding(MARKERS.item, 2)).obj();
      job.spec.map.template.spec!.containers[0]!.name = 'Bad_Name';
      return job;
    },
    expected: { phase: 'Failed', reason: 'PodTemplateInvalid' },
  },
  {
    // Admission refuses every pod (403) until the deadline: PodCreateFailed Events on the way.
    name: 'missing-service-account',
    job: () => {
      const job = makeJob('missing-service-account')
        .items(itemsHolding(MARKERS.item, 2))
        .activeDeadlineSeconds(3)
        .obj();
      job.spec.map.template.spec!.serviceAccountName = MISSING_SERVICE_ACCOUNT;
      return job;
    },
    expected: { phase: 'Failed', reason: 'DeadlineExceeded' },
  },
];

/** Somewhere output went, and what it holds. */
interface Place {
  where: string;
  text: string;
}

/** "<marker kind> in <place>" for every marker found, in order. */
function markersIn(places: Place[]): string[] {
  return places.flatMap((p) =>
    Object.entries(MARKERS)
      .filter(([, m]) => p.text.includes(m))
      .map(([kind]) => `${kind} in ${p.where}`),
  );
}

function spanPlaces(received: ReceivedSpan[]): Place[] {
  return received.flatMap(({ resource, scope, span }) => {
    const at = `span ${span.name} ${span.spanId}`;
    return [
      { where: `${at} name`, text: span.name },
      ...(span.attributes ?? []).map((a) => ({ where: `${at} attribute ${a.key}`, text: JSON.stringify(a) })),
      ...(span.events ?? []).map((e) => ({ where: `${at} event ${e.name}`, text: JSON.stringify(e) })),
      ...(span.links ?? []).map((l) => ({ where: `${at} link to ${l.spanId}`, text: JSON.stringify(l) })),
      { where: `${at} status`, text: JSON.stringify(span.status ?? {}) },
      ...resource.map((a) => ({ where: `${at} resource attribute ${a.key}`, text: JSON.stringify(a) })),
      { where: `${at} scope`, text: JSON.stringify(scope) },
    ];
  });
}

/** A log line's msg, short, to name the line in a failure. */
function logMessage(line: string): string {
  try {
    return String((JSON.parse(line) as { msg?: unknown }).msg).slice(0, 60);
  } catch {
    return line.slice(0, 60);
  }
}

function eventPlace(e: CoreV1Event): Place {
  return { where: `Event ${e.reason} on ${e.involvedObject.name}`, text: JSON.stringify(e) };
}

/** What the API server answers when asked to create this pod (dry run): its Status message. */
async function apiServerRefusal(
  namespace: string,
  name: string,
  template: V1PodTemplateSpec,
): Promise<string> {
  try {
    await cluster().core.createNamespacedPod({
      namespace,
      body: { metadata: { name }, spec: template.spec! },
      dryRun: 'All',
    });
  } catch (err) {
    if (err instanceof ApiException) return (JSON.parse(err.body as string) as { message: string }).message;
    throw err;
  }
  throw new Error(`the API server accepted pod ${name}`);
}

describe('secrets', function () {
  let ns = '';
  let receiver: OtlpReceiver;
  let operator: OperatorProcess;
  let events: CoreV1Event[] = [];
  const ended = new Map<string, MapReduceJob>();

  before(async function () {
    this.timeout(180_000);
    ns = await createTestNamespace('secret');
    receiver = await OtlpReceiver.start();
    const { core } = cluster();
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: SECRET_NAME }, stringData: { password: MARKERS.secretValue } },
    });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: {
        metadata: { name: 'input' },
        data: {
          'items.json': JSON.stringify({
            note: MARKERS.configMapItem,
            items: itemsHolding(MARKERS.configMapItem, 6),
          }),
        },
      },
    });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'broken' }, data: BROKEN_DOCUMENTS },
    });
    operator = await startOperator(ns, [], STARTED, {
      LOG_LEVEL: 'debug', // debug lines are where payloads would leak first
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      // The collector's credentials, as the chart would pass them from a Secret: sent as a header, never logged.
      OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer ${MARKERS.otlpToken}`,
      OTEL_METRIC_EXPORT_INTERVAL: '1000', // metrics reach the receiver too, and are searched with the rest
    });
    for (const c of JOBS) await createJob(ns, withSecretEnv(c.job()));
    for (const c of JOBS) {
      ended.set(c.name, await waitForPhase(ns, c.name, ['Succeeded', 'Failed'], 120_000));
      await waitForEvent(ns, c.name, c.expected.reason);
    }
    // Spans are accepted before the status that ends a job is written; a graceful stop pushes the last metrics.
    expect(await operator.stop()).to.equal(0);
    events = (await core.listNamespacedEvent({ namespace: ns })).items;
  });

  after(async function () {
    if (operator?.proc.exitCode === null) await operator.kill();
    await receiver?.stop();
    if (ns) await deleteTestNamespace(ns);
  });

  it('runs every job to its end, with failures and retries, and exports each running job whole', function () {
    const outcomes = JOBS.map((c) => {
      const status = ended.get(c.name)!.status!;
      const condition = status.phase === 'Succeeded' ? 'Complete' : 'Failed';
      const reason = status.conditions?.find((x) => x.type === condition)?.reason;
      const counts = Object.fromEntries(
        Object.keys(c.expected.counts ?? {}).map((k) => [k, status[k as keyof typeof status]]),
      );
      return { name: c.name, phase: status.phase, reason, counts };
    });
    expect(outcomes).to.deep.equal(
      JOBS.map((c) => ({ name: c.name, ...c.expected, counts: c.expected.counts ?? {} })),
    );
    const spans = receiver.spans();
    const perTrace = JOBS.filter((c) => c.spans).map((c) => {
      const traceId = ended.get(c.name)!.status!.traceID;
      return { name: c.name, spans: spans.filter((s) => s.span.traceId === traceId).length };
    });
    expect(perTrace).to.deep.equal(
      JOBS.filter((c) => c.spans).map((c) => ({ name: c.name, spans: c.spans })),
    );
  });

  it('had the markers to leak: in the input snapshots, and in the pods the operator made', async function () {
    for (const [job, payload] of [
      ['inline', MARKERS.item],
      ['configmap', MARKERS.configMapItem],
    ] as const)
      expect(JSON.stringify(await jobConfigMaps(ns, job, 'items')), job).to.include(payload);
    // Failed pods are kept for `kubectl logs`. (The Secret's value never reaches the operator: pods name it.)
    const [kept] = await jobPods(ns, 'inline');
    const env = kept?.spec?.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === 'MAPREDUCE_ITEM')?.value).to.include(MARKERS.item);
    expect(env.find((e) => e.name === 'API_TOKEN')?.value).to.equal(MARKERS.envValue);
    expect(env.find((e) => e.name === 'DB_PASSWORD')?.valueFrom?.secretKeyRef?.name).to.equal(SECRET_NAME);
  });

  it('keeps every marker out of what the OTLP receiver got: spans, their resource, metrics', function () {
    const places = [
      ...spanPlaces(receiver.spans()),
      ...receiver.requests.map((r, i) => ({ where: `request ${i} to ${r.path}`, text: r.body })),
    ];
    expect(receiver.spans().length).to.be.greaterThan(0);
    expect(markersIn(places)).to.deep.equal([]);
  });

  it('keeps every marker out of the Events of the namespace', function () {
    expect(events.length).to.be.greaterThan(0);
    expect(markersIn(events.map(eventPlace))).to.deep.equal([]);
  });

  it('keeps every marker out of the operator’s logs at debug level, stdout and stderr', function () {
    const { stdout, stderr } = operator.output();
    expect(
      operator.logs.some((l) => l.level === 20),
      'debug lines were written',
    ).to.equal(true);
    const places = [
      ...stdout
        .split('\n')
        .map((line, i) => ({ where: `stdout line ${i + 1} (${logMessage(line)})`, text: line })),
      { where: 'stderr', text: stderr },
    ];
    expect(markersIn(places)).to.deep.equal([]);
  });

  it('puts the API server’s own message into Events, never a response dump with its headers', async function () {
    const dumps = events.flatMap((e) =>
      RESPONSE_DUMP_TEXT.filter((h) => (e.message ?? '').toLowerCase().includes(h)).map(
        (h) => `${h} in Event ${e.reason} on ${e.involvedObject.name}`,
      ),
    );
    expect(dumps).to.deep.equal([]);

    const invalid = withSecretEnv(JOBS.find((c) => c.name === 'invalid-template')!.job());
    const missing = withSecretEnv(JOBS.find((c) => c.name === 'missing-service-account')!.job());
    const messages = (reason: string): string[] => [
      ...new Set(events.filter((e) => e.reason === reason).map((e) => e.message ?? '')),
    ];
    expect({
      PodTemplateInvalid: messages('PodTemplateInvalid'),
      PodCreateFailed: messages('PodCreateFailed'),
    }).to.deep.equal({
      PodTemplateInvalid: [
        `the API server refused the job's pod: ${await apiServerRefusal(ns, 'invalid-template-0-0', invalid.spec.map.template)}`,
      ],
      PodCreateFailed: [
        `could not create pod: ${await apiServerRefusal(ns, 'missing-service-account-0-0', missing.spec.map.template)}`,
      ],
    });
  });
});
