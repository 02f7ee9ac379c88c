// Entry point: `node dist/main.js [flags]` runs the operator.
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { CoreV1Api } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { PooledKubeConfig } from './kubeconfig.js';
import { TokenBucket } from './ratelimit.js';
import { ConfigError, parseConfig, telemetryEnv, usage } from './config.js';
import type { OperatorConfig } from './config.js';
import { createController } from './controller/wiring.js';
import type { ControllerView } from './controller/wiring.js';
import { KubernetesEventRecorder } from './controller/events.js';
import { startHealthServer } from './health.js';
import { LeaderElector } from './leaderelection.js';
import { createLogger, createOtlpLogger, OTLP_LOGS_TRANSPORT, otlpLogsWanted } from './log.js';
import { SpanDelivery } from './telemetry/delivery.js';
import { jobSpanResource, operatorResource, tracingFromEnv } from './telemetry/setup.js';
import { TracingHooks } from './telemetry/tracing.js';
import { Attr } from './telemetry/names.js';
import { combineHooks } from './controller/hooks.js';
import { MetricsHooks } from './telemetry/metrics.js';
import { metricsPlan, startPrometheus } from './telemetry/metricsetup.js';
import { startSdk } from './telemetry/sdk.js';
import { sdkDisabled } from './telemetry/otelenv.js';
import { usePodPropagator } from './telemetry/podenv.js';
import type { Meter } from '@opentelemetry/api';
import { controllerGauges } from './telemetry/gauges.js';
import type { ControllerGauges } from './telemetry/gauges.js';
import type { ControllerHooks } from './controller/hooks.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Longest wait at shutdown for the last metric points to leave, after the Lease is released. */
const TELEMETRY_FLUSH_TIMEOUT_MS = 2_000;

async function clusterUid(kc: KubeConfig): Promise<string | undefined> {
  const ns = await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'kube-system' });
  return ns.metadata?.uid;
}

/**
 * The Lease's own client-side limit (one renewal per RETRY_PERIOD_MS needs far less). The Lease has a client
 * of its own, as client-go's leader election has: behind the controller's limiter, a backlog of pod calls
 * (up to MAX_POD_CHANGES_PER_SYNC per reconcile, on every worker) could hold a renewal past RENEW_DEADLINE_MS,
 * and a busy leader would lose its lease for being busy.
 */
const LEASE_API_QPS = 5;
const LEASE_API_BURST = 10;

function loadKubeConfig(config: OperatorConfig, limiter: TokenBucket): KubeConfig {
  const kc = new PooledKubeConfig(limiter);
  try {
    if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
    else kc.loadFromDefault(); // in-cluster when running in a pod, else ~/.kube/config
  } catch (err) {
    const what = config.kubeconfig ? `--kubeconfig ${config.kubeconfig}` : 'the default kubeconfig';
    throw new ConfigError(`cannot load ${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!kc.getCurrentCluster())
    throw new ConfigError(
      'no cluster: the kubeconfig has no current context (and this is not a pod in a cluster)',
    );
  return kc;
}

async function main(): Promise<void> {
  let config: OperatorConfig | 'help';
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mapreduce-operator: ${err.message}\n\n${usage()}`);
      process.exit(2);
    }
    throw err;
  }
  if (config === 'help') {
    process.stdout.write(usage());
    return;
  }
  const stdoutLog = createLogger(config.logLevel);
  const kc = loadKubeConfig(config, new TokenBucket(config.kubeApiQps, config.kubeApiBurst));
  const identity = `${hostname()}_${randomBytes(4).toString('hex')}`;
  const otelEnv = telemetryEnv(config, process.env);
  // The SDK, its detectors and the exporters read process.env: the flags are applied there first.
  Object.assign(process.env, otelEnv);
  const disabled = sdkDisabled(otelEnv);
  const tracing = tracingFromEnv(otelEnv);
  // The resource is awaited (at most CLUSTER_UID_TIMEOUT_MS) so every span, point and log record carries it.
  const operator = await operatorResource({
    env: otelEnv,
    version: VERSION,
    clusterName: config.clusterName,
    clusterUid: () => clusterUid(kc),
  });
  const otlpLogs = !disabled && otlpLogsWanted(otelEnv);
  const log = otlpLogs
    ? createOtlpLogger(config.logLevel, { version: VERSION, resource: { ...operator.attributes } })
    : stdoutLog;
  if (otlpLogs) log.info(`logs: stdout and otlp (${OTLP_LOGS_TRANSPORT})`);
  log.info(tracing.description);
  for (const warning of tracing.warnings) log.warn(warning);
  let reconcileJob: (key: string) => void = () => undefined;
  let traced: TracingHooks | undefined;
  const delivery = new SpanDelivery({
    exporters: tracing.exporters,
    batchSize: tracing.batchSize,
    timeoutMs: config.spanDeliveryTimeoutMs,
    onNews: (key) => reconcileJob(key),
    onDelivered: (ids) => traced?.delivered(ids),
    log: log.child({ component: 'span-delivery' }),
  });
  const clusterUidAttr = operator.attributes[Attr.K8sClusterUid];
  /** Tracing's hooks, if any exporter is configured; they release pods through the controller's view. */
  const tracingHooks = (view: ControllerView): ControllerHooks[] => {
    if (tracing.exporters.length === 0) return [];
    traced = new TracingHooks({
      delivery,
      resource: jobSpanResource(operator),
      version: VERSION,
      defaultRatio: tracing.defaultRatio,
      limits: tracing.limits,
      clusterName: config.clusterName,
      ...(typeof clusterUidAttr === 'string' ? { clusterUid: clusterUidAttr } : {}),
      release: view.releasePods,
    });
    return [traced];
  };
  const plan = metricsPlan(otelEnv, config.metricsPort);
  const meters: Meter[] = [];
  const stops: (() => Promise<void>)[] = [];
  if (!disabled) {
    if (plan.prometheus) {
      const endpoint = startPrometheus({
        port: config.metricsPort,
        host: config.metricsBindAddress,
        onEndpointError: (err) =>
          log.error(
            { err, address: config.metricsBindAddress, port: config.metricsPort },
            'metrics endpoint cannot listen',
          ),
        resource: operator,
        version: VERSION,
      });
      meters.push(endpoint.meter);
      stops.push(() => endpoint.shutdown());
      log.info(`metrics: ${endpoint.description}`);
    }
    process.env.OTEL_METRICS_EXPORTER = plan.sdkExporters; // the SDK builds the rest; /metrics is ours
    const sdk = startSdk({ resource: operator, version: VERSION, log: log.child({ component: 'otel-sdk' }) });
    usePodPropagator(sdk.propagator);
    if (plan.sdkExporters !== 'none') {
      meters.push(sdk.meter);
      log.info(`metrics: ${plan.sdkExporters} by the OpenTelemetry SDK`);
    }
    stops.push(() => sdk.shutdown());
  } else log.info('telemetry off: OTEL_SDK_DISABLED=true (no spans, no metrics, no /metrics)');
  const running = createController(
    kc,
    config,
    log,
    (core) => new KubernetesEventRecorder(core, log, identity),
    (view) => {
      reconcileJob = (key) => view.queue.add(key);
      const hooks = tracingHooks(view);
      if (meters.length === 0) return combineHooks(...hooks);
      const gauges = (): ControllerGauges =>
        controllerGauges(view.jobs.list(), view.pods.list(), view.queue.length);
      const metricsHooks = new MetricsHooks(meters, {
        perJob: config.metricsPerJob,
        gauges,
        ...(tracing.exporters.length > 0 ? { spansPending: () => delivery.pending } : {}),
      });
      delivery.observe(metricsHooks);
      return combineHooks(...hooks, metricsHooks);
    },
  );
  let synced = false;
  const elector = config.leaderElect
    ? LeaderElector.forConfig(
        loadKubeConfig(config, new TokenBucket(LEASE_API_QPS, LEASE_API_BURST)),
        config.leaderElectionNamespace,
        config.leaderElectionId,
        identity,
        log,
      )
    : undefined;
  const health = await startHealthServer(config.healthPort, {
    ready: () => synced,
    unhealthy: () => running.wedged(),
  });
  const address = health.address();
  const healthPort = typeof address === 'object' && address ? address.port : config.healthPort;
  log.info({ healthPort, identity }, 'mapreduce-operator starting');

  let shuttingDown = false;
  const shutdown = async (signal: string, code = 0): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, 'shutting down: no new work, finishing in-flight writes');
    await running.stop();
    await delivery.shutdown(); // what is pending stays held (pods, status): the next leader delivers it
    await elector?.release();
    health.close();
    // Metrics flush last, for a bounded time (and pino ends the log transport at exit): a dead collector never
    // delays the next leader.
    const flushed = Promise.all(stops.map((stop) => stop().catch(() => undefined)));
    await Promise.race([flushed, sleep(TELEMETRY_FLUSH_TIMEOUT_MS)]);
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  await running.startCaches();
  synced = true;
  if (elector) {
    await elector.acquire();
    if (shuttingDown) return;
    // Lost leadership: stop at once, as controller-runtime does, without finishing in-flight work, since a
    // standby may take over any moment now. Nothing is lost: every write is made durable before the next.
    void elector.renewLoop((why) => {
      log.fatal({ why }, 'leadership lost: exiting');
      process.exit(1);
    });
  }
  running.startWorkers();
}

main().catch((err: unknown) => {
  // Bad configuration (a flag, an OTEL_* variable, the kubeconfig) is one line and exit 2, not a stack trace.
  if (err instanceof ConfigError) {
    process.stderr.write(`mapreduce-operator: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(
    `mapreduce-operator: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
