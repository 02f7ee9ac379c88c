// API calls per item attempt, counted by the API server itself: its `apiserver_request_total` counter, scraped
// from its /metrics (with the kubeconfig's client credentials) before and after a job, by verb and resource.
// The counter does not say which client made a call, so the rows hold the whole cluster's calls in the window
// (scheduler, kwok and kube-controller-manager too); `actorOf` names the usual maker of each row, and calls
// the bench itself made in the window (its polling) are subtracted by the caller.
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

const REQUEST_COUNTER = 'apiserver_request_total';

/** One row of the table: a verb on a resource (group-qualified, with its subresource). */
export interface ApiCallRow {
  verb: string;
  /** e.g. `pods`, `pods/binding`, `mapreducejobs.mapreduce.dev/status`. */
  resource: string;
  calls: number;
  /** Of `calls`, those answered with a 4xx or 5xx code. */
  errors: number;
}

/** Counts keyed by `verb resource code`, as the API server has them since it started. */
export type RequestCounts = Map<string, number>;

const keyOf = (verb: string, resource: string, code: string): string => `${verb} ${resource} ${code}`;

/** `pods`, `pods/status`, `mapreducejobs.mapreduce.dev/status`; non-resource URLs as their path. */
function resourceName(labels: Record<string, string>): string {
  const { group = '', resource = '', subresource = '' } = labels;
  if (!resource) return subresource || '(none)';
  const qualified = group ? `${resource}.${group}` : resource;
  return subresource ? `${qualified}/${subresource}` : qualified;
}

/** The request counts in one /metrics text, summed over version, scope, component and dry run. */
export function requestCounts(metricsText: string): RequestCounts {
  const counts: RequestCounts = new Map();
  const family = parsePrometheusTextFormat(metricsText).find((f) => f.name === REQUEST_COUNTER);
  for (const sample of family?.metrics ?? []) {
    const labels = sample.labels ?? {};
    const key = keyOf((labels.verb ?? '').toLowerCase(), resourceName(labels), labels.code ?? '');
    counts.set(key, (counts.get(key) ?? 0) + Number(sample.value));
  }
  return counts;
}

/** GET /metrics from the kubeconfig's current API server, authenticated as its current user. */
export async function scrapeApiServer(kc: KubeConfig): Promise<string> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  const url = new URL('/metrics', server);
  const options: https.RequestOptions = { method: 'GET', agent: false };
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = https.request(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        res.statusCode === 200
          ? resolve(body)
          : reject(new Error(`GET ${url.href}: HTTP ${res.statusCode}: ${body.slice(0, 200)}`)),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

export async function apiRequestCounts(kc: KubeConfig): Promise<RequestCounts> {
  return requestCounts(await scrapeApiServer(kc));
}

/**
 * The calls made between two scrapes, by verb and resource, most first. `own` (same keys without the code:
 * `verb resource`) are calls the caller made itself in the window, taken off their row.
 */
export function callsBetween(
  before: RequestCounts,
  after: RequestCounts,
  own: ReadonlyMap<string, number> = new Map(),
): ApiCallRow[] {
  const rows = new Map<string, ApiCallRow>();
  for (const [key, count] of after) {
    const delta = count - (before.get(key) ?? 0);
    if (delta <= 0) continue;
    const [verb = '', resource = '', code = ''] = key.split(' ');
    const rowKey = `${verb} ${resource}`;
    const row = rows.get(rowKey) ?? { verb, resource, calls: 0, errors: 0 };
    row.calls += delta;
    if (Number(code) >= 400) row.errors += delta;
    rows.set(rowKey, row);
  }
  for (const [rowKey, count] of own) {
    const row = rows.get(rowKey);
    if (row) row.calls -= count;
  }
  return [...rows.values()]
    .filter((r) => r.calls > 0)
    .sort(
      (a, b) => b.calls - a.calls || a.resource.localeCompare(b.resource) || a.verb.localeCompare(b.verb),
    );
}

/** The calls of one verb on one resource in the rows (0 if none). */
export function callsOf(rows: readonly ApiCallRow[], verb: string, resource: string): number {
  return rows.find((r) => r.verb === verb && r.resource === resource)?.calls ?? 0;
}

/**
 * Who usually makes this call on the local control plane (the counter does not say): the controller's (the
 * operator's, or kube-controller-manager's Job controller for an Indexed Job) writes,
 * the scheduler's bindings and Events, kwok's pod status and Events (standing in for kubelets). Reads and
 * watches are every informer's (operator, scheduler, kwok, kube-controller-manager): left blank.
 */
export function actorOf(row: Pick<ApiCallRow, 'verb' | 'resource'>, controller = 'operator'): string {
  const { verb, resource } = row;
  if (['get', 'list', 'watch'].includes(verb)) return '';
  if (resource === 'pods/binding' || resource === 'events.events.k8s.io') return 'scheduler';
  if (resource === 'pods/status' || resource === 'nodes/status' || resource.startsWith('leases.'))
    return 'kwok';
  // kwok's pod-delete stage deletes again a pod already deleted with grace period 0: a 404 per pod.
  if (resource === 'pods' && verb === 'delete') return `${controller}; the errors: kwok`;
  if (resource === 'events') return `kwok (the ${controller}: a few per job)`;
  if (
    resource === 'pods' ||
    resource.startsWith('mapreducejobs.') ||
    resource.startsWith('jobs.batch') ||
    resource === 'configmaps'
  )
    return controller;
  return '';
}

/** Bench code that calls the API server while calls are being counted tallies them here, to be taken off. */
export class OwnCalls {
  readonly counts = new Map<string, number>();
  add(verb: string, resource: string): void {
    const key = `${verb} ${resource}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
}
