import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { ConfigError } from '../../src/config.js';
import { jobSpanResource, tracingFromEnv } from '../../src/telemetry/setup.js';
import { TracingHooks } from '../../src/telemetry/tracing.js';
import { classifyExportError, SpanDelivery } from '../../src/telemetry/delivery.js';
import type { ExportFailure } from '../../src/telemetry/delivery.js';
import { jobTraceId, spanId } from '../../src/telemetry/ids.js';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { makeJob } from '../support/jobbuilder.js';

describe('tracingFromEnv', function () {
  const cases: { name: string; env: Record<string, string>; exporters: string[]; description: string }[] = [
    {
      name: 'no endpoint: off',
      env: {},
      exporters: [],
      description: 'tracing off: otlp skipped: no OTEL_EXPORTER_OTLP_ENDPOINT',
    },
    {
      name: 'an endpoint: OTLP over gRPC',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317' },
      exporters: ['OTLPTraceExporter'],
      description: 'tracing on: otlp grpc to http://collector:4317; root sample ratio 1',
    },
    {
      name: 'a traces endpoint and http/protobuf, with a ratio',
      env: {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.1',
      },
      exporters: ['OTLPTraceExporter'],
      description: 'tracing on: otlp http/protobuf to http://collector:4318/v1/traces; root sample ratio 0.1',
    },
    {
      name: 'console and otlp together',
      env: { OTEL_TRACES_EXPORTER: 'console,otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' },
      exporters: ['ConsoleSpanExporter', 'OTLPTraceExporter'],
      description: 'tracing on: console, otlp grpc to http://c:4317; root sample ratio 1',
    },
    {
      name: 'OTEL_SDK_DISABLED wins',
      env: { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' },
      exporters: [],
      description: 'tracing off: OTEL_SDK_DISABLED=true',
    },
    { name: 'none', env: { OTEL_TRACES_EXPORTER: 'none' }, exporters: [], description: 'tracing off' },
    {
      name: 'zipkin at the specification’s default endpoint',
      env: { OTEL_TRACES_EXPORTER: 'zipkin' },
      exporters: ['ZipkinExporter'],
      description: 'tracing on: zipkin to http://localhost:9411/api/v2/spans; root sample ratio 1',
    },
    {
      name: 'otlp and zipkin together, zipkin at OTEL_EXPORTER_ZIPKIN_ENDPOINT',
      env: {
        OTEL_TRACES_EXPORTER: 'otlp,zipkin',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317',
        OTEL_EXPORTER_ZIPKIN_ENDPOINT: 'https://zipkin.observability:9411/api/v2/spans',
      },
      exporters: ['OTLPTraceExporter', 'ZipkinExporter'],
      description:
        'tracing on: otlp grpc to http://c:4317, zipkin to https://zipkin.observability:9411/api/v2/spans; root sample ratio 1',
    },
    {
      name: 'otlp and zipkin without an OTLP endpoint: zipkin alone',
      env: { OTEL_TRACES_EXPORTER: 'otlp, zipkin', OTEL_EXPORTER_ZIPKIN_ENDPOINT: ' ' },
      exporters: ['ZipkinExporter'],
      description:
        'tracing on: otlp skipped: no OTEL_EXPORTER_OTLP_ENDPOINT, zipkin to http://localhost:9411/api/v2/spans; root sample ratio 1',
    },
  ];
  for (const tc of cases) {
    it(`configures ${tc.name}`, function () {
      const setup = tracingFromEnv(tc.env);
      expect(setup.exporters.map((e) => e.constructor.name)).to.deep.equal(tc.exporters);
      expect(setup.description).to.equal(tc.description);
    });
  }

  it('applies OTEL_BSP_MAX_EXPORT_BATCH_SIZE to its delivery', function () {
    expect(tracingFromEnv({}).batchSize).to.equal(512);
    expect(tracingFromEnv({ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '100' }).batchSize).to.equal(100);
  });

  it('has no export timeout of its own: delivery retries until --span-delivery-timeout', function () {
    expect(tracingFromEnv({ OTEL_BSP_EXPORT_TIMEOUT: '5000' })).not.to.have.property('exportTimeoutMs');
  });

  const errors: { env: Record<string, string>; message: string }[] = [
    {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' },
      message: 'OTEL_EXPORTER_OTLP_PROTOCOL: "thrift" is not supported; use grpc, http/protobuf or http/json',
    },
    {
      env: { OTEL_TRACES_EXPORTER: 'jaeger' },
      message:
        'OTEL_TRACES_EXPORTER: "jaeger" is not supported; use otlp, zipkin, console or none (comma-separated)',
    },
    {
      env: { OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_ZIPKIN_ENDPOINT: 'zipkin:9411' },
      message: 'OTEL_EXPORTER_ZIPKIN_ENDPOINT: "zipkin:9411" is not an http or https URL',
    },
    {
      env: { OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_ZIPKIN_ENDPOINT: 'http://' },
      message: 'OTEL_EXPORTER_ZIPKIN_ENDPOINT: "http://" is not an http or https URL',
    },
    {
      env: { OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '0' },
      message: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "0" must be a positive whole number',
    },
  ];
  for (const tc of errors) {
    it(`refuses ${JSON.stringify(tc.env)}`, function () {
      expect(() => tracingFromEnv(tc.env)).to.throw(ConfigError, tc.message);
    });
  }
});

/** A failed attempt's span: an ERROR status, an exception event and a link to the attempt before. */
function failedAttemptSpan(): ReadableSpan {
  const context = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 };
  return {
    name: 'mapreduce.agent.execute',
    kind: SpanKind.INTERNAL,
    spanContext: () => context,
    parentSpanContext: { ...context, spanId: '53995c3f42cd8ad8' },
    startTime: [1_700_000_000, 0],
    endTime: [1_700_000_001, 0],
    duration: [1, 0],
    status: { code: SpanStatusCode.ERROR, message: 'exit code 1' },
    attributes: { 'mapreduce.item.index': 3, 'mapreduce.attempt': 1 },
    links: [{ context: { ...context, spanId: '1111111111111111' } }],
    events: [{ name: 'exception', time: [1_700_000_001, 0], attributes: { 'exception.type': 'Error' } }],
    ended: true,
    resource: resourceFromAttributes({ 'service.name': 'mapreduce-operator' }),
    instrumentationScope: { name: 'test' },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

describe('the Zipkin exporter against an HTTP server', function () {
  let server: Server;
  let respondWith = 202;
  const requests: { method?: string; url?: string; body: string }[] = [];

  before(async function () {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => {
        requests.push({ method: req.method, url: req.url, body });
        res.writeHead(respondWith).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  after(function () {
    server.close();
  });

  function endpoint(): string {
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/custom/api/v2/spans`;
  }

  function exportTo(url: string): Promise<ExportResult> {
    const [exporter] = tracingFromEnv({
      OTEL_TRACES_EXPORTER: 'zipkin',
      OTEL_EXPORTER_ZIPKIN_ENDPOINT: url,
    }).exporters;
    return new Promise((resolve) => exporter!.export([failedAttemptSpan()], resolve));
  }

  it('POSTs v2 JSON to OTEL_EXPORTER_ZIPKIN_ENDPOINT: the status message as `error`, events by name, no links', async function () {
    respondWith = 202;
    requests.length = 0;
    expect((await exportTo(endpoint())).code).to.equal(ExportResultCode.SUCCESS);
    expect(requests.map((r) => [r.method, r.url])).to.deep.equal([['POST', '/custom/api/v2/spans']]);
    expect(JSON.parse(requests[0]!.body)).to.deep.equal([
      {
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        parentId: '53995c3f42cd8ad8',
        name: 'mapreduce.agent.execute',
        id: '00f067aa0ba902b7',
        timestamp: 1_700_000_000_000_000,
        duration: 1_000_000,
        localEndpoint: { serviceName: 'mapreduce-operator' },
        tags: {
          'mapreduce.item.index': '3',
          'mapreduce.attempt': '1',
          'otel.status_code': 'ERROR',
          error: 'exit code 1',
          'service.name': 'mapreduce-operator',
        },
        annotations: [{ timestamp: 1_700_000_001_000_000, value: 'exception' }],
      },
    ]);
  });

  // The HTTP rules of OTLP, applied to the status the Zipkin exporter puts in its error's message.
  const statuses: { status: number; kind: ExportFailure }[] = [
    { status: 400, kind: 'permanent' },
    { status: 401, kind: 'permanent' },
    { status: 413, kind: 'tooLarge' },
    { status: 429, kind: 'transient' },
    { status: 500, kind: 'permanent' },
    { status: 503, kind: 'transient' },
  ];
  for (const tc of statuses) {
    it(`classifies an HTTP ${tc.status} as ${tc.kind}`, async function () {
      respondWith = tc.status;
      const result = await exportTo(endpoint());
      expect(result.code).to.equal(ExportResultCode.FAILED);
      expect(classifyExportError(result.error)).to.equal(tc.kind);
    });
  }

  it('classifies a refused connection as transient', async function () {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await exportTo(`http://127.0.0.1:${port}/api/v2/spans`);
    expect(result.code).to.equal(ExportResultCode.FAILED);
    expect(classifyExportError(result.error)).to.equal('transient');
  });
});

describe('jobSpanResource', function () {
  it('keeps the operator’s resource but what names one replica', function () {
    const operator = resourceFromAttributes({
      'service.name': 'mapreduce-operator',
      'service.version': '0.1.0',
      'service.instance.id': 'pod-uid-7',
      'k8s.namespace.name': 'mapreduce-system',
      'k8s.pod.name': 'mapreduce-operator-5d9c-x2',
      'k8s.pod.uid': 'pod-uid-7',
      'k8s.node.name': 'node-1',
      'k8s.cluster.uid': 'cluster-uid',
      'container.id': 'abc123',
      'host.name': 'node-1',
      'host.arch': 'amd64',
      'os.type': 'linux',
      'process.pid': 4242,
      'process.command_args': ['node', 'dist/main.js'],
      'telemetry.sdk.name': 'opentelemetry',
    });
    expect(jobSpanResource(operator).attributes).to.deep.equal({
      'service.name': 'mapreduce-operator',
      'service.version': '0.1.0',
      'k8s.namespace.name': 'mapreduce-system',
      'k8s.cluster.uid': 'cluster-uid',
      'telemetry.sdk.name': 'opentelemetry',
    });
  });
});

describe('log correlation', function () {
  it('names the job span in every log line, before and after the trace is in status', function () {
    const hooks = new TracingHooks({
      delivery: new SpanDelivery({
        exporters: [],
        onNews: () => undefined,
        log: { warn: () => undefined, info: () => undefined },
      }),
      resource: resourceFromAttributes({}),
      version: '0.1.0',
      defaultRatio: 1,
    });
    const job = makeJob('wc').items(['a']).obj();
    job.metadata = { ...job.metadata, namespace: 'ns', uid: 'uid-9' };
    const traceId = jobTraceId('uid-9');
    const expected = { trace_id: traceId, span_id: spanId(traceId, 'uid-9', { kind: 'job' }) };
    expect(hooks.logFields(job)).to.deep.equal({ ...expected, trace_flags: '00' });
    job.status = { traceID: traceId, trace: { spanID: expected.span_id, sampled: true } };
    expect(hooks.logFields(job)).to.deep.equal({ ...expected, trace_flags: '01' });
    job.status = { traceID: traceId, trace: { spanID: expected.span_id, sampled: false } };
    expect(hooks.logFields(job)).to.deep.equal({ ...expected, trace_flags: '00' });
  });
});
