// A real Prometheus (Debian's package, unpacked into the cache by hack/tool-path.sh) per test file, scraping
// the given targets every second; read back through its HTTP query API. promtool checks exposition format.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT, waitFor, WaitAborted } from './cluster.js';
import { freePort } from './ports.js';

export function prometheusBinary(): string {
  return execFileSync('bash', [path.join(REPO_ROOT, 'hack', 'tool-path.sh'), 'prometheus'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** Runs `promtool check metrics` (Prometheus' own exposition parser and linter) on a scrape. */
export function promtoolCheckMetrics(text: string): { ok: boolean; output: string } {
  const promtool = path.join(path.dirname(prometheusBinary()), 'promtool');
  try {
    const output = execFileSync(promtool, ['check', 'metrics'], {
      input: text,
      encoding: 'utf8',
      stdio: 'pipe',
    });
    return { ok: true, output };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export class Prometheus {
  private constructor(
    private readonly proc: ChildProcess,
    private readonly dir: string,
    readonly url: string,
    readonly output: string[],
  ) {}

  static async start(targets: string[]): Promise<Prometheus> {
    const bin = prometheusBinary();
    const dir = mkdtempSync(path.join(tmpdir(), 'prometheus-'));
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: mapreduce-operator',
      '    static_configs:',
      `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n');
    writeFileSync(path.join(dir, 'prometheus.yml'), config);
    const port = await freePort();
    const proc = spawn(
      bin,
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output: string[] = [];
    proc.stdout.setEncoding('utf8').on('data', (d: string) => output.push(d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => output.push(d));
    const prometheus = new Prometheus(proc, dir, `http://127.0.0.1:${port}`, output);
    await waitFor(
      'Prometheus to be ready',
      async () => {
        if (proc.exitCode !== null)
          throw new WaitAborted(`prometheus exited ${proc.exitCode}: ${output.join('')}`);
        try {
          return (await fetch(`${prometheus.url}/-/ready`)).ok;
        } catch {
          return false;
        }
      },
      30_000,
    );
    return prometheus;
  }

  /** An instant query's samples. */
  async query(promql: string): Promise<Sample[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== 'success') throw new Error(`query ${promql}: ${body.error}`);
    return body.data!.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
  }

  /** Waits until the query's single value equals `expected`; returns it. */
  async waitForValue(promql: string, expected: number, timeoutMs = 30_000): Promise<number> {
    let last: number | undefined;
    try {
      return await waitFor(
        `${promql} == ${expected}`,
        async () => {
          const samples = await this.query(promql);
          last = samples.length === 1 ? samples[0]!.value : undefined;
          return last === expected ? last : undefined;
        },
        timeoutMs,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message} (last value: ${last})`, { cause: err });
    }
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      const exited = new Promise((resolve) => this.proc.once('exit', resolve));
      this.proc.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
