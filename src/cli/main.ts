#!/usr/bin/env node
// kubectl-mapreduce: a job's status, dead-letter list, results and trace waterfall in the terminal.
// On PATH as `kubectl-mapreduce`, kubectl runs it as `kubectl mapreduce ...`.
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { isNotFound } from '../apierrors.js';
import { PooledKubeConfig } from '../kubeconfig.js';
import { LABEL_JOB_NAME, LABEL_STORE } from '../api/constants.js';
import { dump } from 'js-yaml';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../api/types.js';
import { planRerun } from '../controller/rerun.js';
import { listedResults } from '../controller/resultstore.js';
import { InputError } from '../input/resolve.js';
import type { MapReduceJob } from '../api/types.js';
import { spanId } from '../telemetry/ids.js';
import { fetchTrace } from './jaeger.js';
import { DEFAULT_BAR_WIDTH, renderWaterfall } from './waterfall.js';

const USAGE = `usage: kubectl mapreduce <command> <job> [-n namespace] [--kubeconfig file] [--jaeger-url url]

commands:
  status   phase, counts, conditions and the reduce result
  failed   the dead-letter list: items that exhausted their retries, with their trace and span ids
  results  every item's result (index, result), then the reduce result
  trace    the job's trace as a waterfall, from Jaeger's query API (--jaeger-url, env JAEGER_URL,
           default http://127.0.0.1:16686); a re-run's earlier trace after it
  rerun    a new job over the job's failed items (spec.input.fromJob, docs/rerun.md):
           [--name NEW] [--reason R]... [--exit-code N]... [--image IMAGE] [--no-merge]
           [--dry-run=client -o yaml|json] (print it, e.g. to commit it, instead of creating it)
`;

export class CliError extends Error {}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
    .join('\n');
}

function age(since: string | undefined, now: Date): string {
  if (!since) return '-';
  const s = Math.max(0, Math.round((now.getTime() - new Date(since).getTime()) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

export function formatStatus(job: MapReduceJob, now = new Date()): string {
  const st = job.status ?? {};
  const lines = [
    table([
      ['NAME', 'PHASE', 'SUCCEEDED', 'FAILED', 'RETRIES', 'ACTIVE', 'AGE', 'TRACE ID'],
      [
        job.metadata.name!,
        st.phase ?? 'Pending',
        `${st.succeededItems ?? 0}/${st.totalItems ?? '?'}`,
        String(st.failedItems ?? 0),
        String(st.retries ?? 0),
        String(st.activeItems ?? 0),
        age(job.metadata.creationTimestamp as unknown as string | undefined, now),
        st.traceID ?? '-',
      ],
    ]),
  ];
  for (const c of st.conditions ?? [])
    lines.push(`condition ${c.type}=${c.status} ${c.reason}: ${c.message}`);
  if (st.result !== undefined) lines.push(`result: ${st.result}`);
  return `${lines.join('\n')}\n`;
}

export function formatFailed(job: MapReduceJob): string {
  const details = job.status?.failedItemDetails ?? [];
  if (details.length === 0) return `${job.metadata.name}: no failed items\n`;
  const traceId = job.status?.traceID;
  const rows = [['INDEX', 'ID', 'ATTEMPTS', 'REASON', 'EXIT', 'TRACE/SPAN OF LAST ATTEMPT', 'MESSAGE']];
  for (const d of details) {
    const span =
      traceId && job.metadata.uid
        ? `${traceId}/${spanId(traceId, job.metadata.uid, { kind: 'agent', phase: 'map', index: d.index, attempt: d.attempts - 1 })}`
        : '-';
    rows.push([
      String(d.index),
      d.id,
      String(d.attempts),
      d.reason,
      String(d.exitCode ?? '-'),
      span,
      d.message ?? '',
    ]);
  }
  const more = (job.status?.failedItems ?? 0) - details.length;
  return `${table(rows)}\n${more > 0 ? `(${more} older failed items: indexes ${job.status?.failedIndexes})\n` : ''}`;
}

export interface RerunOptions {
  /** Default: <job>-rerun. */
  name?: string;
  reasons?: string[];
  exitCodes?: number[];
  /** The main (first) container's image in the map template: the fixed agent. */
  image?: string;
  /** Merge the earlier results into the re-run's reduce (default: when the job has a reduce). */
  merge?: boolean;
}

/**
 * The MapReduceJob that re-runs `source`'s failed items: its spec, with the input replaced by fromJob and
 * what only the earlier run had (suspend, a parent traceparent) left out. Refuses what the operator would
 * fail, with the same message.
 */
export function rerunManifest(source: MapReduceJob, options: RerunOptions = {}): MapReduceJob {
  const spec = structuredClone(source.spec);
  delete spec.suspend;
  const merge = options.merge ?? spec.reduce !== undefined;
  const job: MapReduceJob = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: options.name ?? `${source.metadata.name}-rerun`,
      namespace: source.metadata.namespace!,
    },
    spec: {
      ...spec,
      input: {
        fromJob: {
          name: source.metadata.name!,
          ...(options.reasons?.length ? { reasons: options.reasons } : {}),
          ...(options.exitCodes?.length ? { exitCodes: options.exitCodes } : {}),
          ...(merge ? { mergeResults: true } : {}),
        },
      },
    },
  };
  if (job.spec.telemetry?.parentTraceparent !== undefined) delete job.spec.telemetry.parentTraceparent;
  if (options.image !== undefined) {
    const main = job.spec.map.template.spec?.containers[0];
    if (main) main.image = options.image;
  }
  try {
    planRerun(job, source);
  } catch (err) {
    if (err instanceof InputError) throw new CliError(`rerun: ${err.message}`);
    throw err;
  }
  return job;
}

interface Clients {
  custom: CustomObjectsApi;
  core: CoreV1Api;
  namespace: string;
}

async function getJob(c: Clients, name: string): Promise<MapReduceJob> {
  try {
    return (await c.custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: c.namespace,
      plural: PLURAL,
      name,
    })) as MapReduceJob;
  } catch (err) {
    if (isNotFound(err)) throw new CliError(`mapreducejob "${name}" not found in namespace "${c.namespace}"`);
    throw err;
  }
}

async function results(c: Clients, job: MapReduceJob): Promise<string> {
  const list = await c.core.listNamespacedConfigMap({
    namespace: c.namespace,
    labelSelector: `${LABEL_JOB_NAME}=${job.metadata.name},${LABEL_STORE}=results`,
  });
  // Only the pieces the status lists: one it does not (a leader killed between writing a piece and the
  // status that lists it) holds results stored again in another piece.
  const entries = listedResults(job.metadata.name!, job.status?.resultPieces, list.items);
  const lines = entries.map(([i, v]) => `${i}\t${v}`);
  if (job.status?.result !== undefined) lines.push(`reduce\t${job.status.result}`);
  return `${lines.join('\n')}\n`;
}

export async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<string> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        kubeconfig: { type: 'string' },
        'jaeger-url': { type: 'string' },
        width: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        name: { type: 'string' },
        reason: { type: 'string', multiple: true },
        'exit-code': { type: 'string', multiple: true },
        image: { type: 'string' },
        merge: { type: 'boolean' },
        'dry-run': { type: 'string' },
        output: { type: 'string', short: 'o' },
      },
      allowNegative: true,
    });
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return USAGE;
  const [command, name] = positionals;
  if (!command || !['status', 'failed', 'results', 'trace', 'rerun'].includes(command))
    throw new CliError(`${command ? `unknown command "${command}"` : 'a command is needed'}\n\n${USAGE}`);
  if (!name) throw new CliError(`${command}: which job? (kubectl mapreduce ${command} <job>)`);
  const rerunOptions = command === 'rerun' ? parseRerunOptions(values) : undefined;
  const kc = new PooledKubeConfig();
  if (values.kubeconfig) kc.loadFromFile(values.kubeconfig);
  else kc.loadFromDefault();
  const namespace = values.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const clients: Clients = {
    custom: kc.makeApiClient(CustomObjectsApi),
    core: kc.makeApiClient(CoreV1Api),
    namespace,
  };
  const job = await getJob(clients, name);
  switch (command) {
    case 'status':
      return formatStatus(job);
    case 'failed':
      return formatFailed(job);
    case 'results':
      return results(clients, job);
    case 'rerun':
      return rerun(clients, job, rerunOptions!);
    default: {
      const traceId = job.status?.traceID;
      if (!traceId) throw new CliError(`${name} has no trace: tracing was off when it started`);
      if (job.status?.trace?.sampled === false)
        throw new CliError(`${name}'s trace ${traceId} was not sampled`);
      const jaegerUrl = values['jaeger-url'] ?? env.JAEGER_URL ?? 'http://127.0.0.1:16686';
      const width = values.width ? Number(values.width) : DEFAULT_BAR_WIDTH;
      if (!Number.isInteger(width) || width < 10)
        throw new CliError(`--width: "${values.width}" must be a whole number ≥ 10`);
      const spans = await fetchTrace(jaegerUrl, traceId);
      const out = `trace ${traceId} (${jaegerUrl}/trace/${traceId})\n${renderWaterfall(spans, { width })}`;
      const earlier = job.status?.fromJob;
      if (!earlier?.traceID) return out;
      // A re-run: the earlier job's trace, which its spans link to, follows.
      const heading = `re-run of ${earlier.name}: earlier trace ${earlier.traceID} (${jaegerUrl}/trace/${earlier.traceID})`;
      if (earlier.sampled === false) return `${out}\n${heading}\n(not sampled)\n`;
      const earlierSpans = await fetchTrace(jaegerUrl, earlier.traceID);
      return `${out}\n${heading}\n${renderWaterfall(earlierSpans, { width })}`;
    }
  }
}

type ParsedValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

function parseRerunOptions(values: ParsedValues): RerunOptions & { output?: 'yaml' | 'json' } {
  const dryRun = values['dry-run'];
  if (dryRun !== undefined && dryRun !== 'client')
    throw new CliError(`--dry-run: "${String(dryRun)}" is not supported; use --dry-run=client`);
  const output = values.output;
  if (output !== undefined && output !== 'yaml' && output !== 'json')
    throw new CliError(`-o: "${String(output)}" is not supported; use -o yaml or -o json`);
  if (output !== undefined && dryRun === undefined)
    throw new CliError('-o prints the new job instead of creating it: use it with --dry-run=client');
  const exitCodes = ((values['exit-code'] as string[] | undefined) ?? []).map((c) => {
    if (!/^-?\d+$/.test(c)) throw new CliError(`--exit-code: "${c}" is not a whole number`);
    return Number(c);
  });
  const options: RerunOptions & { output?: 'yaml' | 'json' } = {
    reasons: (values.reason as string[] | undefined) ?? [],
    exitCodes,
  };
  if (typeof values.name === 'string') options.name = values.name;
  if (typeof values.image === 'string') options.image = values.image;
  if (typeof values.merge === 'boolean') options.merge = values.merge;
  if (dryRun !== undefined) options.output = output ?? 'yaml';
  return options;
}

async function rerun(
  c: Clients,
  source: MapReduceJob,
  options: RerunOptions & { output?: 'yaml' | 'json' },
): Promise<string> {
  const job = rerunManifest(source, options);
  if (options.output === 'json') return `${JSON.stringify(job, null, 2)}\n`;
  if (options.output === 'yaml') return dump(job, { noRefs: true, lineWidth: 120 });
  await c.custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: c.namespace,
    plural: PLURAL,
    body: job,
  });
  return `mapreducejob.${GROUP}/${job.metadata.name} created (re-runs ${job.spec.input.fromJob!.name}'s failed items)\n`;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('kubectl-mapreduce')) {
  run(process.argv.slice(2), process.env).then(
    (out) => process.stdout.write(out),
    (err: unknown) => {
      process.stderr.write(`kubectl-mapreduce: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
