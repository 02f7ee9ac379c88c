// Operator configuration: command-line flags, each with an environment-variable fallback.
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';

export interface OperatorConfig {
  kubeconfig?: string;
  /** Namespaces to watch; empty for all namespaces. */
  namespaces: string[];
  concurrency: number;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  logLevel: string;
  healthPort: number;
  keepFailedPods: number;
  retryBackoffBaseMs: number;
  retryBackoffMaxMs: number;
  /** Telemetry settings given as flags; each overrides its standard OTEL_* variable (telemetryEnv). */
  otlpEndpoint?: string;
  otlpProtocol?: string;
  traceSampleRatio?: string;
  clusterName?: string;
  metricsPort: number;
  /** Address /metrics listens on: loopback by default, so nothing outside the pod reads it unless asked. */
  metricsBindAddress: string;
  metricsPerJob: boolean;
  /** Client-side rate limit of API requests: sustained requests per second, and the burst above it. */
  kubeApiQps: number;
  kubeApiBurst: number;
  /** How long spans are retried before they are dropped and counted (SpansDropped). */
  spanDeliveryTimeoutMs: number;
}

export class ConfigError extends Error {}

/**
 * The client-side rate limit's defaults: above controller-runtime's 20/30, which would hold a job to about
 * 7 items/s (each item costs ~3 requests: create, release, delete); at 100/s the 200-item benchmark
 * (parallelism 20) is not throttled. API Priority and Fairness still protects the server.
 */
export const DEFAULT_KUBE_API_QPS = 100;
export const DEFAULT_KUBE_API_BURST = 200;

/** Loopback: a process started outside a cluster does not publish its metrics to the network by default. */
export const DEFAULT_METRICS_BIND_ADDRESS = '127.0.0.1';

interface FlagSpec {
  env: string;
  help: string;
  default?: string;
  /** A boolean flag may be given bare (`--leader-elect`) or with a value (`--leader-elect=false`). */
  boolean?: true;
}

/** Every flag, its env fallback and its help; --help prints this table. */
export const FLAGS: Record<string, FlagSpec> = {
  kubeconfig: {
    env: 'KUBECONFIG',
    help: 'path to a kubeconfig; default: in-cluster config, else ~/.kube/config',
  },
  namespace: {
    env: 'WATCH_NAMESPACE',
    help: 'watch only these namespaces, comma-separated (needs rights only there); default: all namespaces',
  },
  concurrency: { env: 'MAPREDUCE_CONCURRENCY', help: 'jobs reconciled at once', default: '4' },
  'leader-elect': {
    env: 'MAPREDUCE_LEADER_ELECT',
    help: 'elect a leader on a Lease so several replicas are safe',
    default: 'false',
    boolean: true,
  },
  'leader-election-namespace': {
    env: 'POD_NAMESPACE',
    help: 'namespace of the leader Lease',
    default: 'default',
  },
  'leader-election-id': {
    env: 'MAPREDUCE_LEADER_ELECTION_ID',
    help: 'name of the leader Lease',
    default: 'mapreduce-operator-leader',
  },
  'kube-api-qps': {
    env: 'MAPREDUCE_KUBE_API_QPS',
    help: 'API requests per second, sustained (client-side limit, as client-go)',
    default: String(DEFAULT_KUBE_API_QPS),
  },
  'kube-api-burst': {
    env: 'MAPREDUCE_KUBE_API_BURST',
    help: 'API requests allowed at once above --kube-api-qps',
    default: String(DEFAULT_KUBE_API_BURST),
  },
  'log-level': { env: 'LOG_LEVEL', help: 'trace, debug, info, warn, error', default: 'info' },
  'health-port': { env: 'MAPREDUCE_HEALTH_PORT', help: 'port of /healthz and /readyz', default: '8081' },
  'keep-failed-pods': {
    env: 'MAPREDUCE_KEEP_FAILED_PODS',
    help: 'failed pods kept per job for debugging',
    default: '3',
  },
  'retry-backoff-base': {
    env: 'MAPREDUCE_RETRY_BACKOFF_BASE',
    help: 'delay before an item’s first retry (doubles per attempt), e.g. 10s, 500ms',
    default: '10s',
  },
  'retry-backoff-max': { env: 'MAPREDUCE_RETRY_BACKOFF_MAX', help: 'longest retry delay', default: '6m' },
  'otlp-endpoint': {
    env: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    help: 'OTLP endpoint for traces (and metrics), e.g. http://collector:4317; tracing is off without one',
  },
  'otlp-protocol': {
    env: 'OTEL_EXPORTER_OTLP_PROTOCOL',
    help: 'grpc, http/protobuf or http/json',
    default: 'grpc',
  },
  'trace-sample-ratio': {
    env: 'OTEL_TRACES_SAMPLER_ARG',
    help: 'share of jobs traced, 0 to 1, unless a job sets spec.telemetry.sampleRatio',
  },
  'span-delivery-timeout': {
    env: 'MAPREDUCE_SPAN_DELIVERY_TIMEOUT',
    help: 'how long spans are retried while the collector fails before they are dropped and counted (SpansDropped); jobs never wait for them',
    default: '10m',
  },
  'cluster-name': { env: 'K8S_CLUSTER_NAME', help: 'k8s.cluster.name on all telemetry' },
  'metrics-port': {
    env: 'MAPREDUCE_METRICS_PORT',
    help: 'port of the Prometheus endpoint /metrics; 0 turns it off',
    default: '9464',
  },
  'metrics-bind-address': {
    env: 'MAPREDUCE_METRICS_BIND_ADDRESS',
    help: 'IP address /metrics listens on; 0.0.0.0 or :: for all interfaces (as in a pod behind a Service)',
    default: DEFAULT_METRICS_BIND_ADDRESS,
  },
  'metrics-per-job': {
    env: 'MAPREDUCE_METRICS_PER_JOB',
    help: 'label metrics with mapreduce.job.name (one series per job, never forgotten while the operator runs); off by default so series stay bounded by namespaces',
    default: 'false',
    boolean: true,
  },
};

/** OTLP over gRPC unless OTEL_EXPORTER_OTLP_[SIGNAL_]PROTOCOL says otherwise (the SDK's own default is http/protobuf). */
export const DEFAULT_OTLP_PROTOCOL = 'grpc';

/** The OTEL_* environment the telemetry SDK reads: the process env with the telemetry flags applied. */
export function telemetryEnv(config: OperatorConfig, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  if (config.otlpEndpoint) out.OTEL_EXPORTER_OTLP_ENDPOINT = config.otlpEndpoint;
  if (config.otlpProtocol) out.OTEL_EXPORTER_OTLP_PROTOCOL = config.otlpProtocol;
  // The operator's default, so the SDK's metric and log exporters speak what its trace exporters speak.
  if (!out.OTEL_EXPORTER_OTLP_PROTOCOL) out.OTEL_EXPORTER_OTLP_PROTOCOL = DEFAULT_OTLP_PROTOCOL;
  if (config.traceSampleRatio) {
    out.OTEL_TRACES_SAMPLER = 'parentbased_traceidratio';
    out.OTEL_TRACES_SAMPLER_ARG = config.traceSampleRatio;
  }
  return out;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function parseDuration(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value);
  if (!m) throw new ConfigError(`--${flag}: "${value}" is not a duration (e.g. 500ms, 10s, 6m, 1h)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

function parseInteger(flag: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new ConfigError(`--${flag}: "${value}" must be a whole number from ${min} to ${max}`);
  }
  return Number(value);
}

function parseRate(flag: string, value: string): number {
  const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (!(n > 0 && n <= 10_000))
    throw new ConfigError(`--${flag}: "${value}" must be a number above 0 and at most 10000`);
  return n;
}

/** A Kubernetes namespace name: an RFC 1123 label. */
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function parseNamespaces(value: string | undefined): string[] {
  if (!value) return [];
  const names = value.split(',').map((n) => n.trim());
  for (const name of names)
    if (!NAMESPACE_NAME.test(name))
      throw new ConfigError(
        `--namespace: "${name}" is not a namespace name (lowercase letters, digits and '-', at most 63; several separated by commas)`,
      );
  return [...new Set(names)];
}

function parseBindAddress(flag: string, value: string): string {
  if (value !== 'localhost' && isIP(value) === 0)
    throw new ConfigError(
      `--${flag}: "${value}" must be an IP address (0.0.0.0 or :: for all interfaces) or localhost`,
    );
  return value;
}

function parseBool(flag: string, value: string): boolean {
  if (value === 'true' || value === '') return true;
  if (value === 'false') return false;
  throw new ConfigError(`--${flag}: "${value}" must be true or false`);
}

export function usage(): string {
  const lines = Object.entries(FLAGS).map(
    ([name, f]) =>
      `  --${name.padEnd(28)} ${f.help} (env ${f.env}${f.default !== undefined ? `, default ${f.default}` : ''})`,
  );
  return `usage: mapreduce-operator [flags]\n\n${lines.join('\n')}\n`;
}

/** Parses flags; a flag not given falls back to its env var, then its default. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): OperatorConfig | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv.map((arg) => (FLAGS[arg.replace(/^--/, '')]?.boolean ? `${arg}=true` : arg)),
      options: {
        ...Object.fromEntries(Object.keys(FLAGS).map((name) => [name, { type: 'string' as const }])),
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return 'help';
  const get = (name: string): string | undefined => {
    const v = values[name];
    if (typeof v === 'string') return v;
    const spec = FLAGS[name]!;
    return env[spec.env] || spec.default;
  };
  const logLevel = get('log-level')!;
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError(`--log-level: "${logLevel}" must be one of ${LOG_LEVELS.join(', ')}`);
  const config: OperatorConfig = {
    namespaces: parseNamespaces(get('namespace')),
    concurrency: parseInteger('concurrency', get('concurrency')!, 1, 64),
    leaderElect: parseBool('leader-elect', get('leader-elect')!),
    leaderElectionNamespace: get('leader-election-namespace')!,
    leaderElectionId: get('leader-election-id')!,
    logLevel,
    healthPort: parseInteger('health-port', get('health-port')!, 0, 65535),
    keepFailedPods: parseInteger('keep-failed-pods', get('keep-failed-pods')!, 0, 1000),
    retryBackoffBaseMs: parseDuration('retry-backoff-base', get('retry-backoff-base')!),
    retryBackoffMaxMs: parseDuration('retry-backoff-max', get('retry-backoff-max')!),
    metricsPort: parseInteger('metrics-port', get('metrics-port')!, 0, 65535),
    metricsBindAddress: parseBindAddress('metrics-bind-address', get('metrics-bind-address')!),
    metricsPerJob: parseBool('metrics-per-job', get('metrics-per-job')!),
    kubeApiQps: parseRate('kube-api-qps', get('kube-api-qps')!),
    kubeApiBurst: parseInteger('kube-api-burst', get('kube-api-burst')!, 1, 10_000),
    spanDeliveryTimeoutMs: parseDuration('span-delivery-timeout', get('span-delivery-timeout')!),
  };
  const kubeconfig = get('kubeconfig');
  if (kubeconfig) config.kubeconfig = kubeconfig;
  // Given only as flags: the OTEL_* variables themselves are read by the SDK, with their own precedence.
  const flag = (name: string): string | undefined =>
    typeof values[name] === 'string' ? values[name] : undefined;
  const otlpEndpoint = flag('otlp-endpoint');
  if (otlpEndpoint) config.otlpEndpoint = otlpEndpoint;
  const otlpProtocol = flag('otlp-protocol');
  if (otlpProtocol) config.otlpProtocol = otlpProtocol;
  const ratio = flag('trace-sample-ratio');
  if (ratio !== undefined) {
    if (!/^(0(\.\d+)?|1(\.0+)?)$/.test(ratio))
      throw new ConfigError(`--trace-sample-ratio: "${ratio}" must be a number from 0 to 1`);
    config.traceSampleRatio = ratio;
  }
  const clusterName = get('cluster-name');
  if (clusterName) config.clusterName = clusterName;
  return config;
}
