#!/usr/bin/env node
// kubectl-mapreduce: a job's status, dead-letter list, results and trace waterfall in the terminal.
// On PATH as `kubectl-mapreduce`, kubectl runs it as `kubectl mapreduce ...`.
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { isNotFound } from '../apierrors.js';
import { PooledKubeConfig } from '../kubeconfig.js';
import { LABEL_JOB_NAME, LABEL_STORE } from '../api/constants.js';
import { GROUP, PLURAL, VERSION } from '../api/types.js';
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
           default http://127.0.0.1:16686)
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
  const entries: [number, string][] = [];
  for (const cm of list.items)
    for (const [k, v] of Object.entries(cm.data ?? {})) entries.push([Number(k), v]);
  entries.sort((a, b) => a[0] - b[0]);
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
      },
    });
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return USAGE;
  const [command, name] = positionals;
  if (!command || !['status', 'failed', 'results', 'trace'].includes(command))
    throw new CliError(`${command ? `unknown command "${command}"` : 'a command is needed'}\n\n${USAGE}`);
  if (!name) throw new CliError(`${command}: which job? (kubectl mapreduce ${command} <job>)`);
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
      return `trace ${traceId} (${jaegerUrl}/trace/${traceId})\n${renderWaterfall(spans, { width })}`;
    }
  }
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
