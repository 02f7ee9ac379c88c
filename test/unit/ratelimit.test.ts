import { expect } from 'chai';
import { TokenBucket } from '../../src/ratelimit.js';

/** A bucket on a clock the test moves; reserve() answers how long each request would wait. */
function bucket(qps: number, burst: number): { b: TokenBucket; advance: (ms: number) => void } {
  let now = 0;
  const b = new TokenBucket(qps, burst, { nowMs: () => now, sleep: () => Promise.resolve() });
  return { b, advance: (ms) => (now += ms) };
}

describe('TokenBucket', function () {
  const cases: { name: string; qps: number; burst: number; steps: (number | 'take')[]; waits: number[] }[] = [
    {
      name: 'a burst of 3 goes at once; the next ones are spaced 1/qps apart, in order',
      qps: 10,
      burst: 3,
      steps: ['take', 'take', 'take', 'take', 'take'],
      waits: [0, 0, 0, 100, 200],
    },
    {
      name: 'tokens come back at qps, up to the burst and no more',
      qps: 2,
      burst: 2,
      steps: ['take', 'take', 500, 'take', 'take', 10_000, 'take', 'take', 'take'],
      waits: [0, 0, 0, 500, 0, 0, 500],
    },
    {
      name: 'a fractional qps (0.5/s) waits 2 s per request past the burst',
      qps: 0.5,
      burst: 1,
      steps: ['take', 'take', 'take'],
      waits: [0, 2000, 4000],
    },
  ];
  for (const c of cases) {
    it(c.name, function () {
      const { b, advance } = bucket(c.qps, c.burst);
      const waits: number[] = [];
      for (const step of c.steps) {
        if (step === 'take') waits.push(Math.round(b.reserve()));
        else advance(step);
      }
      expect(waits).to.deep.equal(c.waits);
    });
  }

  it('refuses a qps or burst that cannot work, naming it', function () {
    expect(() => new TokenBucket(0, 1)).to.throw(RangeError, 'qps must be a positive number, not 0');
    expect(() => new TokenBucket(1, 0.5)).to.throw(RangeError, 'burst must be a whole number ≥ 1, not 0.5');
  });
});
