// The operator's metrics on the local control plane, read by a real Prometheus and checked by promtool.
import { networkInterfaces } from 'node:os';
import { expect } from 'chai';
import type { JsonValue } from '../../src/api/types.js';
import { cluster, useTestNamespace, waitFor } from '../support/cluster.js';
import { createJob, waitForPhase } from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { startOperator, STARTED } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';
import { freePort } from '../support/ports.js';
import { Jaeger } from '../support/jaeger.js';
import { Prometheus, promtoolCheckMetrics } from '../support/prometheus.js';

describe('metrics', function () {
  const ns = useTestNamespace('metrics');
  let port: number;
  let prometheus: Prometheus;
  const operators: OperatorProcess[] = [];

  before(async function () {
    port = await freePort();
    prometheus = await Prometheus.start([`127.0.0.1:${port}`]);
  });

  after(async function () {
    await prometheus?.stop();
  });

  afterEach(async function () {
    await Promise.all(operators.splice(0).map((o) => o.kill()));
  });

  async function start(): Promise<OperatorProcess> {
    const op = await startOperator(ns.name, [`--metrics-port=${port}`, '--metrics-per-job'], STARTED);
    operators.push(op);
    return op;
  }

  async function scrape(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).to.equal(200);
    return res.text();
  }

  it('counts a 30-item job with 3 failing items exactly as its status does', async function () {
    await start();
    const items = Array.from({ length: 30 }, (_, i): JsonValue =>
      i % 10 === 4 ? { i, sim: { exitCode: 2 } } : { i },
    );
    await createJob(
      ns.name,
      makeJob('m30').items(items).parallelism(6).backoffLimitPerItem(1).maxFailedItems(3).obj(),
    );
    const job = await waitForPhase(ns.name, 'm30', ['Succeeded', 'Failed'], 120_000);
    expect(job.status).to.deep.include({
      phase: 'Succeeded',
      succeededItems: 27,
      failedItems: 3,
      retries: 3,
    });

    const text = await scrape();
    const check = promtoolCheckMetrics(text);
    expect(check.ok, check.output).to.equal(true);
    for (const name of [
      'mapreduce_agents_completed_total',
      'mapreduce_agents_failed_total',
      'mapreduce_agents_retried_total',
      'mapreduce_agent_duration_seconds_bucket',
      'mapreduce_agents_active',
      'mapreduce_queue_depth',
      'mapreduce_controller_reconciles_total',
      'mapreduce_workqueue_depth',
    ])
      expect(text, name).to.match(new RegExp(`^${name}\\{`, 'm'));

    const sel = `k8s_namespace_name="${ns.name}",mapreduce_job_name="m30"`;
    await prometheus.waitForValue(`sum(mapreduce_agents_completed_total{${sel}})`, 27);
    await prometheus.waitForValue(`sum(mapreduce_agents_failed_total{${sel},reason="exit code 2"})`, 3);
    await prometheus.waitForValue(`sum(mapreduce_agents_retried_total{${sel}})`, 3);
    await prometheus.waitForValue(`sum(mapreduce_agents_started_total{${sel}})`, 33);
    await prometheus.waitForValue(`sum(mapreduce_agent_duration_seconds_count{${sel}})`, 33);
    await prometheus.waitForValue(`mapreduce_agents_active{${sel}}`, 0);
    await prometheus.waitForValue(`mapreduce_queue_depth{${sel}}`, 0);
    await prometheus.waitForValue(`sum(mapreduce_jobs_completed_total{${sel}})`, 1);
    const target = await prometheus.query('up{job="mapreduce-operator"}');
    expect(target.map((s) => s.value)).to.deep.equal([1]);
    const info = await prometheus.query('target_info{job="mapreduce-operator"}');
    const kubeSystem = await cluster().core.readNamespace({ name: 'kube-system' });
    expect(info[0]?.labels).to.deep.include({
      service_name: 'mapreduce-operator',
      service_version: '0.1.0',
      k8s_cluster_uid: kubeSystem.metadata!.uid!,
    });
  });

  it('pushes the same metrics over OTLP gRPC to a real OpenTelemetry receiver', async function () {
    // Jaeger v2 is an OpenTelemetry Collector: its OTLP receiver takes metrics and re-serves them as Prometheus text.
    const jaeger = await Jaeger.start();
    try {
      const op = await startOperator(ns.name, ['--metrics-per-job'], STARTED, {
        OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpGrpcEndpoint,
        OTEL_METRIC_EXPORT_INTERVAL: '500',
        OTEL_TRACES_EXPORTER: 'none',
      });
      operators.push(op);
      expect(op.logs.map((l) => l.msg)).to.include('metrics: otlp by the OpenTelemetry SDK');
      await createJob(ns.name, makeJob('pushed').items(['a', 'b', 'c', 'd']).obj());
      await waitForPhase(ns.name, 'pushed', ['Succeeded']);
      const line = new RegExp(
        `^mapreduce_agents_completed_total\\{[^}]*mapreduce_job_name="pushed"[^}]*\\} 4$`,
        'm',
      );
      const text = await waitFor('the pushed counter at the receiver', async () => {
        const body = await (await fetch(jaeger.metricsUrl)).text();
        return line.test(body) ? body : undefined;
      });
      expect(text).to.match(
        /^mapreduce_agent_duration_seconds_count\{[^}]*mapreduce_job_name="pushed"[^}]*\} 4$/m,
      );
      // The receiver maps the resource's service.name to the job label.
      expect(text).to.match(/^mapreduce_agents_completed_total\{[^}]*job="mapreduce-operator"/m);
    } finally {
      await jaeger.stop();
    }
  });

  /** This machine's own non-loopback IPv4 address: where a scraper from elsewhere would connect. */
  function machineAddress(): string | undefined {
    return Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  }

  async function connectError(url: string): Promise<string | undefined> {
    try {
      await fetch(url);
      return undefined;
    } catch (err) {
      return (err as { cause?: { code?: string } }).cause?.code ?? String(err);
    }
  }

  it('listens on loopback by default: /metrics is not reachable through this machine’s own address', async function () {
    const address = machineAddress();
    if (!address) this.skip(); // a machine with loopback only has nothing to prove this on
    const loopbackPort = await freePort();
    const op = await startOperator(ns.name, [`--metrics-port=${loopbackPort}`], STARTED);
    operators.push(op);
    expect(op.logs.map((l) => l.msg)).to.include(`metrics: prometheus on 127.0.0.1:${loopbackPort}/metrics`);
    await waitFor('/metrics on loopback', async () =>
      (await fetch(`http://127.0.0.1:${loopbackPort}/metrics`)).ok ? true : undefined,
    );
    expect(await connectError(`http://${address}:${loopbackPort}/metrics`)).to.equal('ECONNREFUSED');
  });

  it('with --metrics-bind-address=0.0.0.0, serves /metrics through this machine’s own address', async function () {
    const address = machineAddress();
    if (!address) this.skip();
    const allPort = await freePort();
    const op = await startOperator(
      ns.name,
      [`--metrics-port=${allPort}`, '--metrics-bind-address=0.0.0.0'],
      STARTED,
    );
    operators.push(op);
    expect(op.logs.map((l) => l.msg)).to.include(`metrics: prometheus on 0.0.0.0:${allPort}/metrics`);
    const text = await waitFor(`/metrics at ${address}:${allPort}`, async () => {
      const res = await fetch(`http://${address}:${allPort}/metrics`);
      return res.ok ? res.text() : undefined;
    });
    expect(text).to.match(/^target_info\{[^}]*service_name="mapreduce-operator"/m);
    expect(promtoolCheckMetrics(text).ok).to.equal(true);
  });

  it('logs an error and goes on when /metrics cannot listen at the address given', async function () {
    const foreign = '203.0.113.7'; // TEST-NET-3 (RFC 5737): documentation only, no interface here has it
    const local = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address));
    expect(local).to.not.include(foreign);
    const op = await startOperator(ns.name, [
      `--metrics-port=${await freePort()}`,
      '--metrics-per-job',
      `--metrics-bind-address=${foreign}`,
    ]);
    operators.push(op);
    const logged = await waitFor('the listen error in the log', () =>
      Promise.resolve(op.logs.find((l) => l.msg === 'metrics endpoint cannot listen')),
    );
    expect(logged).to.deep.include({ address: foreign });
    expect((logged.err as { code?: string }).code).to.equal('EADDRNOTAVAIL');
    await createJob(ns.name, makeJob('unmetered').items(['a']).obj());
    await waitForPhase(ns.name, 'unmetered', ['Succeeded']);
  });

  it('with OTEL_SDK_DISABLED=true, serves no /metrics: its port is not listening, and jobs still run', async function () {
    const offPort = await freePort();
    const op = await startOperator(ns.name, [`--metrics-port=${offPort}`], STARTED, {
      OTEL_SDK_DISABLED: 'true',
    });
    operators.push(op);
    expect(op.logs.map((l) => l.msg)).to.include(
      'telemetry off: OTEL_SDK_DISABLED=true (no spans, no metrics, no /metrics)',
    );
    await createJob(ns.name, makeJob('sdkoff').items(['a']).obj());
    await waitForPhase(ns.name, 'sdkoff', ['Succeeded']);
    expect(await connectError(`http://127.0.0.1:${offPort}/metrics`)).to.equal('ECONNREFUSED');
  });

  it('reports the right gauges again after an operator restart mid-job', async function () {
    const op = await start();
    await createJob(
      ns.name,
      makeJob('stuck')
        .items(Array.from({ length: 10 }, (_, i) => i))
        .parallelism(4)
        .mapAnnotation('sim.mapreduce.dev/never-finish', 'true')
        .obj(),
    );
    const sel = `k8s_namespace_name="${ns.name}",mapreduce_job_name="stuck"`;
    await prometheus.waitForValue(`mapreduce_agents_active{${sel}}`, 4);
    await prometheus.waitForValue(`mapreduce_queue_depth{${sel}}`, 6);
    await op.kill();
    await waitFor('the scrape to fail while the operator is down', async () =>
      (await prometheus.query('up{job="mapreduce-operator"}'))[0]?.value === 0 ? true : undefined,
    );
    await start();
    // The new process starts with zeroed counters but reads the gauges from the cluster.
    await waitFor('the new operator to be scraped', async () =>
      (await prometheus.query('up{job="mapreduce-operator"}'))[0]?.value === 1 ? true : undefined,
    );
    await prometheus.waitForValue(`mapreduce_agents_active{${sel}}`, 4);
    await prometheus.waitForValue(`mapreduce_queue_depth{${sel}}`, 6);
    expect(await prometheus.query(`mapreduce_agents_started_total{${sel}}`)).to.deep.equal([]);
  });
});
