// A real Zipkin server (the pinned zipkin-server jar, fetched by hack/tool-path.sh) per test file, on a free
// loopback port, on the machine's Java: its v2 API for reading traces back, its web UI for a browser.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT, waitFor, WaitAborted } from './cluster.js';
import { freePort } from './ports.js';

/** A span as Zipkin's /api/v2/trace/{traceId} returns it (times in microseconds; span and service names lower-cased). */
export interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name?: string;
  kind?: 'CLIENT' | 'SERVER' | 'PRODUCER' | 'CONSUMER';
  timestamp?: number;
  duration?: number;
  localEndpoint?: { serviceName?: string };
  annotations?: { timestamp: number; value: string }[];
  tags?: Record<string, string>;
}

/** Started in ~10 s on 2 cores (measured); a first run also fetches and extracts the jar. */
const START_TIMEOUT_MS = 90_000;
/** The JVM's options: the heap holds MAX_SPANS (~3.4 KB each, measured); C1 only starts it ~2x faster. */
const JAVA_OPTIONS = ['-Xmx256m', '-XX:TieredStopAtLevel=1'];
/** In-memory storage keeps this many spans, dropping the oldest traces beyond it (Zipkin's default is 500,000). */
const MAX_SPANS = 40_000;

export class Zipkin {
  /** `http://127.0.0.1:PORT`: the API under /api/v2, the web UI under /zipkin/. */
  readonly url: string;
  /** Where spans are POSTed: the value of OTEL_EXPORTER_ZIPKIN_ENDPOINT. */
  readonly spansEndpoint: string;

  private constructor(
    private readonly proc: ChildProcess,
    port: number,
    readonly output: string[],
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.spansEndpoint = `${this.url}/api/v2/spans`;
  }

  static async start(): Promise<Zipkin> {
    const jar = execFileSync('bash', [path.join(REPO_ROOT, 'hack', 'tool-path.sh'), 'zipkin'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    const port = await freePort();
    const proc = spawn(
      'java',
      [
        ...JAVA_OPTIONS,
        '-jar',
        jar,
        '--armeria.ports[0].ip=127.0.0.1',
        `--armeria.ports[0].port=${port}`,
        '--armeria.ports[0].protocols[0]=http',
        `--zipkin.storage.mem.max-spans=${MAX_SPANS}`,
        '--logging.level.root=WARN',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output: string[] = [];
    proc.stdout.setEncoding('utf8').on('data', (d: string) => output.push(d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => output.push(d));
    const zipkin = new Zipkin(proc, port, output);
    try {
      await waitFor(
        'Zipkin to be healthy',
        async () => {
          if (proc.exitCode !== null)
            throw new WaitAborted(`zipkin exited ${proc.exitCode}: ${output.join('')}`);
          try {
            const res = await fetch(`${zipkin.url}/health`);
            return res.ok && ((await res.json()) as { status?: string }).status === 'UP';
          } catch {
            return false;
          }
        },
        START_TIMEOUT_MS,
      );
    } catch (err) {
      await zipkin.stop();
      throw err;
    }
    return zipkin;
  }

  /** The web UI's page of one trace. */
  traceUrl(traceId: string): string {
    return `${this.url}/zipkin/traces/${traceId}`;
  }

  /** The trace's spans; none while Zipkin has none of it. */
  async trace(traceId: string): Promise<ZipkinSpan[]> {
    const res = await fetch(`${this.url}/api/v2/trace/${traceId}`);
    if (res.status === 404) return [];
    if (!res.ok) throw new Error(`GET /api/v2/trace/${traceId}: ${res.status} ${await res.text()}`);
    return (await res.json()) as ZipkinSpan[];
  }

  /** Waits until the trace holds `spans` spans and no more arrive for a moment. */
  async waitForTrace(traceId: string, spans: number, timeoutMs = 60_000): Promise<ZipkinSpan[]> {
    let last = -1;
    return waitFor(
      `Zipkin trace ${traceId} to have ${spans} spans`,
      async () => {
        const trace = await this.trace(traceId);
        const settled = trace.length === last && trace.length >= spans;
        last = trace.length;
        return settled ? trace : undefined;
      },
      timeoutMs,
    );
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.kill('SIGTERM');
    await exited;
  }
}
