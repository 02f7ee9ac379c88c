import { expect } from 'chai';
import { ConfigError } from '../../src/config.js';
import { decideSampled, samplerRatioFromEnv, traceIdRatioSampled } from '../../src/telemetry/sampling.js';

describe('sampling', function () {
  const envCases: { name: string; env: Record<string, string>; ratio: number }[] = [
    { name: 'nothing set: parentbased_always_on', env: {}, ratio: 1 },
    { name: 'always_off', env: { OTEL_TRACES_SAMPLER: 'always_off' }, ratio: 0 },
    { name: 'parentbased_always_off', env: { OTEL_TRACES_SAMPLER: 'parentbased_always_off' }, ratio: 0 },
    {
      name: 'traceidratio with an argument',
      env: { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' },
      ratio: 0.25,
    },
    {
      name: 'parentbased_traceidratio without an argument',
      env: { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio' },
      ratio: 1,
    },
  ];
  for (const tc of envCases) {
    it(`reads the root ratio from ${tc.name}`, function () {
      expect(samplerRatioFromEnv(tc.env)).to.equal(tc.ratio);
    });
  }

  it('refuses an unknown sampler and an out-of-range ratio, naming the variable', function () {
    expect(() => samplerRatioFromEnv({ OTEL_TRACES_SAMPLER: 'jaeger_remote' })).to.throw(
      ConfigError,
      'OTEL_TRACES_SAMPLER: "jaeger_remote" is not supported',
    );
    expect(() =>
      samplerRatioFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }),
    ).to.throw(ConfigError, 'OTEL_TRACES_SAMPLER_ARG: "1.5" must be a number from 0 to 1');
  });

  it('samples by the trace id’s low 64 bits, as the Go SDK’s TraceIDRatioBased sampler does', function () {
    const low = '0'.repeat(16) + '0000000000000001';
    const high = '0'.repeat(16) + 'ffffffffffffffff';
    const middle = '0'.repeat(16) + '7000000000000000'; // 0.4375 of 2^64
    expect([0, 0.5, 1].map((r) => traceIdRatioSampled(low, r))).to.deep.equal([false, true, true]);
    expect([0, 0.5, 0.99, 1].map((r) => traceIdRatioSampled(high, r))).to.deep.equal([
      false,
      false,
      false,
      true,
    ]);
    expect([0.4, 0.5].map((r) => traceIdRatioSampled(middle, r))).to.deep.equal([false, true]);
  });

  it('lets the parent decide, else the job’s ratio, else the default', function () {
    const traceId = '0'.repeat(16) + '7000000000000000';
    expect(decideSampled({ parentSampled: false, jobRatio: 1, defaultRatio: 1, traceId })).to.equal(false);
    expect(decideSampled({ parentSampled: true, jobRatio: 0, defaultRatio: 0, traceId })).to.equal(true);
    expect(decideSampled({ jobRatio: 0.5, defaultRatio: 0, traceId })).to.equal(true);
    expect(decideSampled({ jobRatio: 0.4, defaultRatio: 1, traceId })).to.equal(false);
    expect(decideSampled({ defaultRatio: 0.5, traceId })).to.equal(true);
  });
});
