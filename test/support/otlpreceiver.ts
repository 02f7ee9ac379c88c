// An OTLP/HTTP receiver (http/json) that keeps every request body as it arrived, so a test can check what
// left the operator itself, not what a backend's query shows after its own processing. Its fault modes
// (respondWith, down/up) let a test watch the operator's span delivery through refusals and outages.
import { createServer, STATUS_CODES } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';

/** An OTLP JSON attribute: a key and one typed value. */
export interface OtlpAttribute {
  key: string;
  value: Record<string, unknown>;
}

/** A span as OTLP/JSON carries it: the fields tests read (the request bodies keep all of it). */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: OtlpAttribute[];
  events?: { name: string; attributes?: OtlpAttribute[] }[];
  links?: { traceId: string; spanId: string; attributes?: OtlpAttribute[] }[];
  status?: { code?: number; message?: string };
}

/** One span with the resource and scope it was sent under. */
export interface ReceivedSpan {
  resource: OtlpAttribute[];
  scope: { name?: string; version?: string };
  span: OtlpSpan;
}

interface TracesRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: { scope?: { name?: string; version?: string }; spans?: OtlpSpan[] }[];
  }[];
}

/** A log record as OTLP/JSON carries it: the fields tests read. */
export interface OtlpLogRecord {
  timeUnixNano?: string;
  severityText?: string;
  body?: { stringValue?: string };
  attributes?: OtlpAttribute[];
  traceId?: string;
  spanId?: string;
  flags?: number | string;
}

/** One log record with the resource it was sent under. */
export interface ReceivedLogRecord {
  resource: OtlpAttribute[];
  record: OtlpLogRecord;
}

interface LogsRequest {
  resourceLogs?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeLogs?: { logRecords?: OtlpLogRecord[] }[];
  }[];
}

/** The path OTLP/HTTP exporters post log records to (always answered 200). */
export const LOGS_PATH = '/v1/logs';

/** A request as received: its path (/v1/traces, /v1/metrics) and its body, decompressed. */
export interface OtlpRequest {
  path: string;
  body: string;
}

/**
 * How the receiver answers /v1/traces (other paths always get 200):
 * - accept: record the body, answer 200 `{}`;
 * - status: answer that HTTP status with an OTLP Status body; record the body only if `record` is set
 *   (a 503 that records shows what the operator sent while it keeps retrying);
 * - maxBytes: answer 413, unrecorded, to a body larger than maxBytes once decompressed; accept the rest.
 */
export type TracesMode =
  | { kind: 'accept' }
  | { kind: 'status'; status: number; record?: boolean; message?: string }
  | { kind: 'maxBytes'; maxBytes: number };

/** The path OTLP/HTTP exporters post spans to; the fault modes apply only here. */
export const TRACES_PATH = '/v1/traces';

const HOST = '127.0.0.1';
/** A port just closed is normally free again at once; another listener may briefly hold it. */
const UP_RETRY_INTERVAL_MS = 50;
/** Past this the port belongs to someone else: fail the test rather than wait on it. */
const UP_DEADLINE_MS = 5_000;

/** google.rpc.Code for an HTTP status, as gRPC's HTTP mapping and OTLP's error bodies use them. */
const RPC_CODE_FOR_HTTP_STATUS: Record<number, number> = {
  400: 3, // INVALID_ARGUMENT
  401: 16, // UNAUTHENTICATED
  403: 7, // PERMISSION_DENIED
  404: 5, // NOT_FOUND
  413: 8, // RESOURCE_EXHAUSTED
  429: 8, // RESOURCE_EXHAUSTED
  500: 13, // INTERNAL
  502: 14, // UNAVAILABLE
  503: 14, // UNAVAILABLE
  504: 14, // UNAVAILABLE
};
const RPC_UNKNOWN = 2;

/** The OTLP Status body (`{"code":..,"message":".."}`) sent with a refusal of this HTTP status. */
export function otlpStatusBody(status: number, message = STATUS_CODES[status] ?? `HTTP ${status}`): string {
  return JSON.stringify({ code: RPC_CODE_FOR_HTTP_STATUS[status] ?? RPC_UNKNOWN, message });
}

function checkMode(mode: TracesMode): void {
  if (mode.kind === 'status' && !(Number.isInteger(mode.status) && mode.status >= 200 && mode.status <= 599))
    throw new RangeError(`status must be an HTTP status from 200 to 599, not ${mode.status}`);
  if (mode.kind === 'maxBytes' && !(Number.isInteger(mode.maxBytes) && mode.maxBytes >= 0))
    throw new RangeError(`maxBytes must be a whole number ≥ 0, not ${mode.maxBytes}`);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function decompress(req: IncomingMessage, raw: Buffer): Buffer {
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

function answer(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(body);
}

/** Listens once on the port; rejects with the listen error (EADDRINUSE) instead of emitting it. */
function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, HOST);
  });
}

export class OtlpReceiver {
  readonly requests: OtlpRequest[] = [];
  /** When each of `requests` had arrived in full (Date.now()), at the same index. */
  readonly arrivals: number[] = [];
  private readonly server: Server;
  /** For OTEL_EXPORTER_OTLP_ENDPOINT with OTEL_EXPORTER_OTLP_PROTOCOL=http/json. */
  endpoint = '';
  private port = 0;
  private listening = false;
  private mode: TracesMode = { kind: 'accept' };
  private receivedCount = 0;
  private refusedCount = 0;

  private constructor() {
    this.server = createServer((req, res) => {
      const path = req.url ?? '';
      readBody(req).then(
        (raw) => this.handle(path, req, raw, res),
        () => res.writeHead(400).end(),
      );
    });
  }

  static async start(): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver();
    await listen(receiver.server, 0);
    const address = receiver.server.address();
    receiver.port = typeof address === 'object' && address ? address.port : 0;
    receiver.listening = true;
    receiver.endpoint = `http://${HOST}:${receiver.port}`;
    return receiver;
  }

  /** Trace requests received in full, recorded or not. */
  get received(): number {
    return this.receivedCount;
  }

  /** Trace requests answered with a status other than 2xx. */
  get refused(): number {
    return this.refusedCount;
  }

  /** Changes how later /v1/traces requests are answered. */
  respondWith(mode: TracesMode): void {
    checkMode(mode);
    this.mode = { ...mode };
  }

  /** A collector outage: stop listening (connections are refused) and cut the connections already open. */
  async down(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise((resolve) => this.server.close(resolve));
    this.server.closeAllConnections();
    await closed;
  }

  /** The collector is back: listen again on the same port, so the endpoint stays the same. */
  async up(): Promise<void> {
    if (this.listening) return;
    const deadline = Date.now() + UP_DEADLINE_MS;
    for (;;) {
      try {
        await listen(this.server, this.port);
        this.listening = true;
        return;
      } catch (err) {
        const busy = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (!busy || Date.now() >= deadline) throw err;
        await sleep(UP_RETRY_INTERVAL_MS);
      }
    }
  }

  /** Every span received, in order of arrival. */
  spans(): ReceivedSpan[] {
    const out: ReceivedSpan[] = [];
    for (const r of this.requests.filter((x) => x.path === TRACES_PATH)) {
      for (const rs of (JSON.parse(r.body) as TracesRequest).resourceSpans ?? []) {
        for (const ss of rs.scopeSpans ?? []) {
          for (const span of ss.spans ?? [])
            out.push({ resource: rs.resource?.attributes ?? [], scope: ss.scope ?? {}, span });
        }
      }
    }
    return out;
  }

  /** Every log record received, in order of arrival. */
  logs(): ReceivedLogRecord[] {
    const out: ReceivedLogRecord[] = [];
    for (const r of this.requests.filter((x) => x.path === LOGS_PATH)) {
      for (const rl of (JSON.parse(r.body) as LogsRequest).resourceLogs ?? []) {
        for (const sl of rl.scopeLogs ?? [])
          for (const record of sl.logRecords ?? [])
            out.push({ resource: rl.resource?.attributes ?? [], record });
      }
    }
    return out;
  }

  /**
   * Each recorded copy of each span, by spanId: `JSON.stringify({resource, scope, span})` of the copy as
   * parsed (key order kept), so two copies can be compared byte for byte.
   */
  spanCopies(): Map<string, string[]> {
    const copies = new Map<string, string[]>();
    for (const { resource, scope, span } of this.spans()) {
      const text = JSON.stringify({ resource, scope, span });
      const seen = copies.get(span.spanId);
      if (seen) seen.push(text);
      else copies.set(span.spanId, [text]);
    }
    return copies;
  }

  /** The spanIds recorded more than once, in order of first arrival. */
  duplicates(): string[] {
    return [...this.spanCopies()].filter(([, copies]) => copies.length > 1).map(([spanId]) => spanId);
  }

  async stop(): Promise<void> {
    this.listening = false;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(path: string, req: IncomingMessage, raw: Buffer, res: ServerResponse): void {
    let body: Buffer;
    try {
      body = decompress(req, raw);
    } catch {
      if (path === TRACES_PATH) this.count(400);
      answer(res, 400, otlpStatusBody(400, 'body is not valid gzip'));
      return;
    }
    if (path !== TRACES_PATH) {
      this.record(path, body);
      answer(res, 200, '{}');
      return;
    }
    const mode = this.mode;
    if (mode.kind === 'status') {
      if (mode.record) this.record(path, body);
      this.count(mode.status);
      answer(res, mode.status, otlpStatusBody(mode.status, mode.message));
      return;
    }
    if (mode.kind === 'maxBytes' && body.length > mode.maxBytes) {
      this.count(413);
      answer(res, 413, otlpStatusBody(413, `${body.length} bytes is more than ${mode.maxBytes}`));
      return;
    }
    this.record(path, body);
    this.count(200);
    answer(res, 200, '{}');
  }

  private record(path: string, body: Buffer): void {
    this.requests.push({ path, body: body.toString('utf8') });
    this.arrivals.push(Date.now());
  }

  private count(status: number): void {
    this.receivedCount++;
    if (status < 200 || status > 299) this.refusedCount++;
  }
}
