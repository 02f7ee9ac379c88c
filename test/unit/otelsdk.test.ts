import { expect } from 'chai';
import { context, diag, metrics, propagation } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { DEFAULT_POD_PROPAGATOR, traceContextForPod, usePodPropagator } from '../../src/telemetry/podenv.js';
import { startSdk } from '../../src/telemetry/sdk.js';
import type { RunningSdk } from '../../src/telemetry/sdk.js';
import { makeJob } from '../support/jobbuilder.js';
import { persistedJob } from '../support/tracingbuilders.js';
import { metricsPlan } from '../../src/telemetry/metricsetup.js';
import type { MetricsPlan } from '../../src/telemetry/metricsetup.js';
import { operatorResource, spanLimitsFromEnv } from '../../src/telemetry/setup.js';
import type { SpanLimits } from '../../src/telemetry/spans.js';
import { ConfigError, DEFAULT_OTLP_PROTOCOL, parseConfig, telemetryEnv } from '../../src/config.js';
import type { OperatorConfig } from '../../src/config.js';

describe('metricsPlan: OTEL_METRICS_EXPORTER between /metrics and the SDK', function () {
  const cases: { name: string; env: Record<string, string>; port?: number; plan: MetricsPlan }[] = [
    { name: 'unset, no endpoint: /metrics only', env: {}, plan: { prometheus: true, sdkExporters: 'none' } },
    {
      name: 'unset, an OTLP endpoint: /metrics and OTLP',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' },
      plan: { prometheus: true, sdkExporters: 'otlp' },
    },
    {
      name: 'unset, a metrics endpoint: /metrics and OTLP',
      env: { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://c:4318/v1/metrics' },
      plan: { prometheus: true, sdkExporters: 'otlp' },
    },
    {
      name: 'prometheus alone',
      env: { OTEL_METRICS_EXPORTER: 'prometheus', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' },
      plan: { prometheus: true, sdkExporters: 'none' },
    },
    {
      name: 'otlp alone: no /metrics',
      env: { OTEL_METRICS_EXPORTER: 'otlp' },
      plan: { prometheus: false, sdkExporters: 'otlp' },
    },
    {
      name: 'several, spaced: the SDK gets all but prometheus',
      env: { OTEL_METRICS_EXPORTER: ' console , prometheus,otlp ' },
      plan: { prometheus: true, sdkExporters: 'console,otlp' },
    },
    {
      name: 'none wins',
      env: { OTEL_METRICS_EXPORTER: 'prometheus,none' },
      plan: { prometheus: false, sdkExporters: 'none' },
    },
    {
      name: '--metrics-port=0 turns /metrics off',
      env: { OTEL_METRICS_EXPORTER: 'prometheus,console' },
      port: 0,
      plan: { prometheus: false, sdkExporters: 'console' },
    },
  ];
  for (const tc of cases) {
    it(tc.name, function () {
      expect(metricsPlan(tc.env, tc.port ?? 9464)).to.deep.equal(tc.plan);
    });
  }
});

describe('telemetryEnv: the flags as OTEL_* variables', function () {
  const config = (argv: string[]): OperatorConfig => parseConfig(argv, {}) as OperatorConfig;
  const cases: {
    name: string;
    argv: string[];
    env: Record<string, string>;
    expected: Record<string, string>;
  }[] = [
    {
      name: 'nothing given: OTLP over gRPC',
      argv: [],
      env: {},
      expected: { OTEL_EXPORTER_OTLP_PROTOCOL: DEFAULT_OTLP_PROTOCOL },
    },
    {
      name: 'the variables kept',
      argv: [],
      env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' },
      expected: {
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      },
    },
    {
      name: 'flags win over the variables',
      argv: ['--otlp-endpoint=http://f:4317', '--otlp-protocol=http/json', '--trace-sample-ratio=0.5'],
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' },
      expected: {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://f:4317',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.5',
      },
    },
  ];
  for (const tc of cases) {
    it(tc.name, function () {
      expect(telemetryEnv(config(tc.argv), tc.env)).to.deep.equal(tc.expected);
    });
  }
});

describe('operatorResource: the SDK’s detectors and ours', function () {
  const saved = { ...process.env };
  afterEach(function () {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  async function detect(env: Record<string, string>, uid?: string): Promise<Record<string, unknown>> {
    for (const key of ['OTEL_SERVICE_NAME', 'OTEL_RESOURCE_ATTRIBUTES']) delete process.env[key];
    Object.assign(process.env, env);
    const resource = await operatorResource({
      env: process.env,
      version: '0.1.0',
      clusterName: 'kind',
      clusterUid: () => (uid ? Promise.resolve(uid) : Promise.reject(new Error('forbidden'))),
    });
    return resource.attributes;
  }

  const cases: { name: string; env: Record<string, string>; uid?: string; has: Record<string, unknown> }[] = [
    {
      name: 'defaults: service.*, the cluster, the SDK’s own attributes',
      env: {},
      uid: 'cluster-uid-1',
      has: {
        'service.name': 'mapreduce-operator',
        'service.version': '0.1.0',
        'k8s.cluster.name': 'kind',
        'k8s.cluster.uid': 'cluster-uid-1',
        'telemetry.sdk.language': 'nodejs',
        'process.pid': process.pid,
      },
    },
    {
      name: 'downward-API env: the pod',
      env: { POD_NAMESPACE: 'ops', POD_NAME: 'op-1', POD_UID: 'uid-1', NODE_NAME: 'n1' },
      has: {
        'k8s.namespace.name': 'ops',
        'k8s.pod.name': 'op-1',
        'k8s.pod.uid': 'uid-1',
        'k8s.node.name': 'n1',
        'service.instance.id': 'uid-1',
      },
    },
    {
      name: 'OTEL_SERVICE_NAME wins',
      env: { OTEL_SERVICE_NAME: 'mr-prod' },
      has: { 'service.name': 'mr-prod' },
    },
    {
      name: 'OTEL_RESOURCE_ATTRIBUTES win, decoded',
      env: { OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,k8s.cluster.name=eu%201' },
      has: { 'deployment.environment.name': 'prod', 'k8s.cluster.name': 'eu 1' },
    },
  ];
  for (const tc of cases) {
    it(tc.name, async function () {
      const attributes = await detect(tc.env, tc.uid);
      for (const [key, value] of Object.entries(tc.has)) expect(attributes[key], key).to.deep.equal(value);
    });
  }

  it('has the host detector’s host.name and arch, and no cluster uid when it cannot be read', async function () {
    const attributes = await detect({});
    expect(attributes['host.arch']).to.be.a('string');
    expect(attributes['host.name']).to.be.a('string');
    expect(attributes).not.to.have.property('k8s.cluster.uid');
  });
});

describe('OTEL_PROPAGATORS: read by NodeSDK, what the pods’ env gets', function () {
  const saved = { ...process.env };
  afterEach(async function () {
    await running?.shutdown();
    running = undefined;
    usePodPropagator(DEFAULT_POD_PROPAGATOR);
    context.disable();
    propagation.disable();
    metrics.disable();
    diag.disable();
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });
  let running: RunningSdk | undefined;

  const cases: { propagators?: string; env: string[] }[] = [
    { env: ['BAGGAGE', 'TRACEPARENT'] },
    { propagators: 'tracecontext', env: ['TRACEPARENT'] },
    { propagators: 'tracecontext,baggage,b3', env: ['B3', 'BAGGAGE', 'TRACEPARENT'] },
    { propagators: 'b3multi', env: ['X_B3_SAMPLED', 'X_B3_SPANID', 'X_B3_TRACEID'] },
    { propagators: 'none', env: [] },
  ];
  for (const tc of cases) {
    it(`${tc.propagators ?? 'unset'}: ${tc.env.join(', ') || 'nothing'}`, function () {
      delete process.env.OTEL_PROPAGATORS;
      if (tc.propagators !== undefined) process.env.OTEL_PROPAGATORS = tc.propagators;
      process.env.OTEL_METRICS_EXPORTER = 'none';
      const log = { warn: () => undefined, error: () => undefined };
      running = startSdk({ resource: resourceFromAttributes({}), version: '0.1.0', log });
      usePodPropagator(running.propagator);
      const job = persistedJob(
        makeJob('wc')
          .items(['a'])
          .telemetry({ baggage: { tenant: 'acme' } }),
      )
        .traced()
        .obj();
      const decorations = traceContextForPod(job, job.status!, { phase: 'map', index: 0, attempt: 0 });
      const carried = decorations.env
        .map((e) => e.name)
        .filter((n) => !n.startsWith('MAPREDUCE_') && n !== 'OTEL_RESOURCE_ATTRIBUTES')
        .sort();
      expect(carried).to.deep.equal(tc.env);
    });
  }
});

describe('spanLimitsFromEnv: the span limits applied to the operator’s own spans', function () {
  const cases: { name: string; env: Record<string, string>; limits: SpanLimits }[] = [
    { name: 'none set: no limit', env: {}, limits: {} },
    {
      name: 'the span variables',
      env: { OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '32', OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '256' },
      limits: { attributeCount: 32, attributeValueLength: 256 },
    },
    {
      name: 'the general variables when the span ones are unset',
      env: { OTEL_ATTRIBUTE_COUNT_LIMIT: '64', OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '1024' },
      limits: { attributeCount: 64, attributeValueLength: 1024 },
    },
    {
      name: 'the span variables win over the general ones',
      env: { OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '8', OTEL_ATTRIBUTE_COUNT_LIMIT: '64' },
      limits: { attributeCount: 8 },
    },
  ];
  for (const tc of cases) {
    it(tc.name, function () {
      expect(spanLimitsFromEnv(tc.env)).to.deep.equal(tc.limits);
    });
  }

  it('refuses a limit that is not a positive whole number, naming the variable', function () {
    expect(() => spanLimitsFromEnv({ OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '-1' })).to.throw(
      ConfigError,
      'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: "-1" must be a positive whole number',
    );
  });
});
