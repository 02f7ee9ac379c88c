// A real Jaeger v2 (built from its Go module by hack/build-control-plane.sh) per test file, on free loopback
// ports, with its HTTP query API for reading traces back.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT, waitFor, WaitAborted } from './cluster.js';
import { freePort } from './ports.js';

/** A span as Jaeger's /api/traces returns it. */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: 'CHILD_OF' | 'FOLLOWS_FROM'; traceID: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags: { key: string; type: string; value: unknown }[];
  logs: { timestamp: number; fields: { key: string; value: unknown }[] }[];
  processID: string;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: { key: string; value: unknown }[] }>;
}

export function tag(span: JaegerSpan, key: string): unknown {
  return span.tags.find((t) => t.key === key)?.value;
}

/** The CHILD_OF parent's span id. */
export function parentOf(span: JaegerSpan): string | undefined {
  return span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;
}

export class Jaeger {
  private constructor(
    private readonly proc: ChildProcess,
    readonly otlpGrpcEndpoint: string,
    readonly otlpHttpEndpoint: string,
    readonly queryUrl: string,
    /** The OTLP metrics Jaeger received, in Prometheus text format. */
    readonly metricsUrl: string,
    readonly output: string[],
  ) {}

  static async start(): Promise<Jaeger> {
    const bin = execFileSync('bash', [path.join(REPO_ROOT, 'hack', 'tool-path.sh'), 'jaeger'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    const ports = {
      JAEGER_QUERY_PORT: await freePort(),
      JAEGER_QUERY_GRPC_PORT: await freePort(),
      JAEGER_HEALTH_PORT: await freePort(),
      JAEGER_OTLP_GRPC_PORT: await freePort(),
      JAEGER_OTLP_HTTP_PORT: await freePort(),
      JAEGER_METRICS_EXPORT_PORT: await freePort(),
    };
    const proc = spawn(bin, ['--config', path.join(REPO_ROOT, 'hack', 'jaeger', 'config.yaml')], {
      env: { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    proc.stdout.setEncoding('utf8').on('data', (d: string) => output.push(d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => output.push(d));
    const jaeger = new Jaeger(
      proc,
      `http://127.0.0.1:${ports.JAEGER_OTLP_GRPC_PORT}`,
      `http://127.0.0.1:${ports.JAEGER_OTLP_HTTP_PORT}`,
      `http://127.0.0.1:${ports.JAEGER_QUERY_PORT}`,
      `http://127.0.0.1:${ports.JAEGER_METRICS_EXPORT_PORT}/metrics`,
      output,
    );
    await waitFor(
      'Jaeger to be healthy',
      async () => {
        if (proc.exitCode !== null)
          throw new WaitAborted(`jaeger exited ${proc.exitCode}: ${output.join('')}`);
        try {
          return (await fetch(`http://127.0.0.1:${ports.JAEGER_HEALTH_PORT}/status`)).ok;
        } catch {
          return false;
        }
      },
      30_000,
    );
    return jaeger;
  }

  /** The trace, or undefined while Jaeger has none of it. */
  async trace(traceId: string): Promise<JaegerTrace | undefined> {
    const res = await fetch(`${this.queryUrl}/api/traces/${traceId}`);
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`GET /api/traces/${traceId}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { data: JaegerTrace[] };
    return body.data[0];
  }

  /** Waits until the trace holds `count` spans and no more arrive for a moment. */
  async waitForTrace(traceId: string, count: number, timeoutMs = 60_000): Promise<JaegerTrace> {
    let last = -1;
    return waitFor(
      `trace ${traceId} to have ${count} spans`,
      async () => {
        const trace = await this.trace(traceId);
        const n = trace?.spans.length ?? 0;
        const settled = n === last && n >= count;
        last = n;
        return settled ? trace : undefined;
      },
      timeoutMs,
    );
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.kill('SIGTERM');
    await exited;
  }
}
