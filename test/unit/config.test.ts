import { expect } from 'chai';
import { ConfigError, parseConfig, parseDuration } from '../../src/config.js';

describe('parseConfig', function () {
  it('applies defaults', function () {
    expect(parseConfig([], {})).to.deep.equal({
      namespaces: [],
      concurrency: 4,
      leaderElect: false,
      leaderElectionNamespace: 'default',
      leaderElectionId: 'mapreduce-operator-leader',
      logLevel: 'info',
      healthPort: 8081,
      keepFailedPods: 3,
      retryBackoffBaseMs: 10_000,
      retryBackoffMaxMs: 360_000,
      metricsPort: 9464,
      metricsBindAddress: '127.0.0.1',
      metricsPerJob: false,
      kubeApiQps: 100,
      kubeApiBurst: 200,
      spanDeliveryTimeoutMs: 600_000,
    });
  });

  it('prefers a flag over its env var, and the env var over the default', function () {
    const config = parseConfig(['--concurrency=8', '--namespace', 'jobs'], {
      MAPREDUCE_CONCURRENCY: '2',
      LOG_LEVEL: 'debug',
      MAPREDUCE_LEADER_ELECT: 'true',
    });
    expect(config).to.deep.include({
      concurrency: 8,
      namespaces: ['jobs'],
      logLevel: 'debug',
      leaderElect: true,
    });
  });

  const bad: [string[], string][] = [
    [['--concurrency=0'], '--concurrency: "0" must be a whole number from 1 to 64'],
    [
      ['--log-level=loud'],
      '--log-level: "loud" must be one of trace, debug, info, warn, error, fatal, silent',
    ],
    [['--retry-backoff-base=10'], '--retry-backoff-base: "10" is not a duration (e.g. 500ms, 10s, 6m, 1h)'],
    [['--leader-elect=maybe'], '--leader-elect: "maybe" must be true or false'],
    [['--kube-api-qps=0'], '--kube-api-qps: "0" must be a number above 0 and at most 10000'],
    [['--kube-api-qps=fast'], '--kube-api-qps: "fast" must be a number above 0 and at most 10000'],
    [['--kube-api-burst=0'], '--kube-api-burst: "0" must be a whole number from 1 to 10000'],
    [['--namespace=team-a,Team_B'], '--namespace: "Team_B" is not a namespace name'],
    [['--namespace=team-a,'], '--namespace: "" is not a namespace name'],
    [
      ['--metrics-bind-address=0.0.0.0:9464'],
      '--metrics-bind-address: "0.0.0.0:9464" must be an IP address (0.0.0.0 or :: for all interfaces) or localhost',
    ],
    [['--metrics-bind-address=example.org'], '--metrics-bind-address: "example.org" must be an IP address'],
  ];
  for (const [argv, message] of bad) {
    it(`refuses ${argv.join(' ')} with a message naming the flag`, function () {
      expect(() => parseConfig(argv, {})).to.throw(ConfigError, message);
    });
  }

  it('takes the API rate limit as client-go does: a fractional qps, a whole burst', function () {
    expect(parseConfig(['--kube-api-qps=2.5'], { MAPREDUCE_KUBE_API_BURST: '5' })).to.deep.include({
      kubeApiQps: 2.5,
      kubeApiBurst: 5,
    });
  });

  it('watches several namespaces given comma-separated, each once, by flag or WATCH_NAMESPACE', function () {
    expect(parseConfig(['--namespace=team-a, team-b,team-a'], {})).to.deep.include({
      namespaces: ['team-a', 'team-b'],
    });
    expect(parseConfig([], { WATCH_NAMESPACE: 'team-a,team-b' })).to.deep.include({
      namespaces: ['team-a', 'team-b'],
    });
    expect(parseConfig(['--namespace='], { WATCH_NAMESPACE: 'team-a' })).to.deep.include({ namespaces: [] });
  });

  it('binds /metrics where told: all interfaces, IPv6, or by env', function () {
    expect(parseConfig(['--metrics-bind-address=0.0.0.0'], {})).to.deep.include({
      metricsBindAddress: '0.0.0.0',
    });
    expect(parseConfig(['--metrics-bind-address=::'], {})).to.deep.include({ metricsBindAddress: '::' });
    expect(parseConfig([], { MAPREDUCE_METRICS_BIND_ADDRESS: '10.0.0.7' })).to.deep.include({
      metricsBindAddress: '10.0.0.7',
    });
  });

  it('takes a boolean flag bare or with a value', function () {
    expect(parseConfig(['--leader-elect'], {})).to.deep.include({ leaderElect: true });
    expect(parseConfig(['--leader-elect=false'], { MAPREDUCE_LEADER_ELECT: 'true' })).to.deep.include({
      leaderElect: false,
    });
  });

  it('refuses an unknown flag', function () {
    expect(() => parseConfig(['--paralelism=3'], {})).to.throw(ConfigError, "Unknown option '--paralelism'");
  });

  it('parses durations', function () {
    expect([
      parseDuration('x', '500ms'),
      parseDuration('x', '1.5s'),
      parseDuration('x', '6m'),
      parseDuration('x', '1h'),
    ]).to.deep.equal([500, 1500, 360_000, 3_600_000]);
  });
});
