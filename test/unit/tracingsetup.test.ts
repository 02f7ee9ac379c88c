import { expect } from 'chai';
import { ConfigError } from '../../src/config.js';
import { jobSpanResource, tracingFromEnv } from '../../src/telemetry/setup.js';
import { pushExportersFromEnv } from '../../src/telemetry/metricsetup.js';
import { TracingHooks } from '../../src/telemetry/tracing.js';
import { SpanDelivery } from '../../src/telemetry/delivery.js';
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
      env: { OTEL_TRACES_EXPORTER: 'zipkin' },
      message: 'OTEL_TRACES_EXPORTER: "zipkin" is not supported; use otlp, console or none (comma-separated)',
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
    });
    expect(jobSpanResource(operator).attributes).to.deep.equal({
      'service.name': 'mapreduce-operator',
      'service.version': '0.1.0',
      'k8s.namespace.name': 'mapreduce-system',
      'k8s.cluster.uid': 'cluster-uid',
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
    expect(hooks.logFields(job)).to.deep.equal(expected);
    job.status = { traceID: traceId, trace: { spanID: expected.span_id, sampled: true } };
    expect(hooks.logFields(job)).to.deep.equal(expected);
  });
});

describe('metric push exporters', function () {
  const cases: { name: string; env: Record<string, string>; exporters: string[] }[] = [
    { name: 'no endpoint: none', env: {}, exporters: [] },
    {
      name: 'an endpoint: OTLP gRPC',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' },
      exporters: ['OTLPMetricExporter'],
    },
    {
      name: 'a metrics endpoint over http/json',
      env: {
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://c:4318/v1/metrics',
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
      },
      exporters: ['OTLPMetricExporter'],
    },
    {
      name: 'console and prometheus',
      env: { OTEL_METRICS_EXPORTER: 'console,prometheus' },
      exporters: ['ConsoleMetricExporter'],
    },
    {
      name: 'disabled SDK',
      env: { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' },
      exporters: [],
    },
  ];
  for (const tc of cases) {
    it(`configures ${tc.name}`, function () {
      expect(pushExportersFromEnv(tc.env).exporters.map((e) => e.constructor.name)).to.deep.equal(
        tc.exporters,
      );
    });
  }

  it('refuses an unknown exporter, naming the variable', function () {
    expect(() => pushExportersFromEnv({ OTEL_METRICS_EXPORTER: 'statsd' })).to.throw(
      ConfigError,
      'OTEL_METRICS_EXPORTER: "statsd" is not supported; use otlp, prometheus, console or none (comma-separated)',
    );
  });
});
