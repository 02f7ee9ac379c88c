// An OTLP/HTTP receiver (http/json) that keeps every request body as it arrived, so a test can check what
// left the operator itself, not what a backend's query shows after its own processing.
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
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

/** A request as received: its path (/v1/traces, /v1/metrics) and its body, decompressed. */
export interface OtlpRequest {
  path: string;
  body: string;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export class OtlpReceiver {
  readonly requests: OtlpRequest[] = [];
  private readonly server: Server;
  /** For OTEL_EXPORTER_OTLP_ENDPOINT with OTEL_EXPORTER_OTLP_PROTOCOL=http/json. */
  endpoint = '';

  private constructor() {
    this.server = createServer((req, res) => {
      readBody(req).then(
        (raw) => {
          const gzipped = req.headers['content-encoding'] === 'gzip';
          this.requests.push({
            path: req.url ?? '',
            body: (gzipped ? gunzipSync(raw) : raw).toString('utf8'),
          });
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        },
        () => res.writeHead(400).end(),
      );
    });
  }

  static async start(): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    const address = receiver.server.address();
    receiver.endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    return receiver;
  }

  /** Every span received, in order of arrival. */
  spans(): ReceivedSpan[] {
    const out: ReceivedSpan[] = [];
    for (const r of this.requests.filter((x) => x.path === '/v1/traces')) {
      for (const rs of (JSON.parse(r.body) as TracesRequest).resourceSpans ?? []) {
        for (const ss of rs.scopeSpans ?? []) {
          for (const span of ss.spans ?? [])
            out.push({ resource: rs.resource?.attributes ?? [], scope: ss.scope ?? {}, span });
        }
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
