import { expect } from 'chai';
import {
  decideSampled,
  rejectionThreshold,
  samplerRatioFromEnv,
  thresholdHex,
  traceIdRatioSampled,
} from '../../src/telemetry/sampling.js';

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
      expect(samplerRatioFromEnv(tc.env)).to.deep.equal({ ratio: tc.ratio });
    });
  }

  it('warns of an unknown sampler or an out-of-range ratio, naming the variable, and uses the default', function () {
    expect([
      samplerRatioFromEnv({ OTEL_TRACES_SAMPLER: 'jaeger_remote' }),
      samplerRatioFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }),
    ]).to.deep.equal([
      {
        ratio: 1,
        warning:
          'OTEL_TRACES_SAMPLER: "jaeger_remote" is not supported (always_on, always_off, traceidratio or their parentbased_ forms); using parentbased_always_on',
      },
      { ratio: 1, warning: 'OTEL_TRACES_SAMPLER_ARG: "1.5" is not a number from 0 to 1; using ratio 1' },
    ]);
  });

  it('samples as OTEP 235: the trace id’s low 56 bits at or above the rejection threshold (1 − ratio) × 2^56', function () {
    const id = (low56: string): string => '0'.repeat(18) + low56;
    const cases: [string, number, boolean][] = [
      [id('00000000000000'), 1, true],
      [id('00000000000000'), 0.5, false],
      [id('7fffffffffffff'), 0.5, false], // just below T = 2^55
      [id('80000000000000'), 0.5, true], // exactly T
      [id('ffffffffffffff'), 0.01, true],
      [id('ffffffffffffff'), 0, false],
      ['ff'.repeat(9) + '00000000000000', 0.99, false], // only the low 56 bits count
    ];
    expect(cases.map(([t, r]) => traceIdRatioSampled(t, r))).to.deep.equal(cases.map((c) => c[2]));
  });

  it('writes the threshold as TRACESTATE’s ot=th value: 14 hex digits, trailing zeros dropped', function () {
    expect([1, 0.5, 0.25, 0.75, 0.1].map((r) => thresholdHex(rejectionThreshold(r)))).to.deep.equal([
      '0',
      '8',
      'c',
      '4',
      'e6666666666666',
    ]);
  });

  it('lets the parent decide, else the job’s ratio, else the default', function () {
    const traceId = '0'.repeat(18) + '90000000000000'; // randomness 0.5625 of 2^56
    expect(decideSampled({ parentSampled: false, jobRatio: 1, defaultRatio: 1, traceId })).to.equal(false);
    expect(decideSampled({ parentSampled: true, jobRatio: 0, defaultRatio: 0, traceId })).to.equal(true);
    expect(decideSampled({ jobRatio: 0.5, defaultRatio: 0, traceId })).to.equal(true);
    expect(decideSampled({ jobRatio: 0.4, defaultRatio: 1, traceId })).to.equal(false);
    expect(decideSampled({ defaultRatio: 0.5, traceId })).to.equal(true);
  });
});
