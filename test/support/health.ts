// What GitOps tools see of a job: Argo CD's health (the chart's Lua check, run by a real Lua 5.1, as Argo CD
// runs it on gopher-lua) and kstatus (hack/kstatus: the sigs.k8s.io/cli-utils library Flux and kpt use).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { JsonValue } from '../../src/api/types.js';
import { kubectl, REPO_ROOT } from './cluster.js';

export const ARGOCD_HEALTH_LUA = path.join(REPO_ROOT, 'manifests', 'argocd', 'health.lua');

function tool(name: 'lua' | 'kstatus'): string {
  return execFileSync('bash', [path.join(REPO_ROOT, 'hack', 'tool-path.sh'), name], {
    encoding: 'utf8',
  }).trim();
}

/** A JSON value as a Lua table constructor. */
function toLua(v: JsonValue): string {
  if (v === null) return 'nil';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{${v.map(toLua).join(', ')}}`;
  return `{${Object.entries(v)
    .map(([k, x]) => `[${JSON.stringify(k)}] = ${toLua(x)}`)
    .join(', ')}}`;
}

export interface Health {
  status: string;
  message: string;
}

/** Argo CD's health of an object (as JSON), from manifests/argocd/health.lua. */
export function argoHealth(obj: object): Health {
  const out = execFileSync(
    tool('lua'),
    [
      '-e',
      `obj = ${toLua(obj as JsonValue)}; local hs = dofile(${JSON.stringify(ARGOCD_HEALTH_LUA)}); io.write(hs.status, "\\n", hs.message)`,
    ],
    { encoding: 'utf8' },
  );
  const [status, message] = out.split('\n');
  return { status: status!, message: message! };
}

/** kstatus of every MapReduceJob in a namespace, by name, as read from the API server. */
export function kstatusOf(namespace: string): Record<string, Health> {
  const json = kubectl('get', 'mapreducejobs', '-n', namespace, '-o', 'json');
  const out = execFileSync(tool('kstatus'), [], { input: json, encoding: 'utf8' });
  const results: Record<string, Health> = {};
  for (const line of out.trim().split('\n')) {
    const r = JSON.parse(line) as { name: string; status: string; message: string };
    results[r.name] = { status: r.status, message: r.message };
  }
  return results;
}
