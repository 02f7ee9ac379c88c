import { expect } from 'chai';
import { formatTraceparent, parseTraceparent, TraceParentError } from '../../src/telemetry/traceparent.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('traceparent', function () {
  const valid: {
    name: string;
    value: string;
    expect: { traceId: string; spanId: string; sampled: boolean; random: boolean };
  }[] = [
    {
      name: 'the spec example, sampled',
      value: `00-${TRACE}-${SPAN}-01`,
      expect: { traceId: TRACE, spanId: SPAN, sampled: true, random: false },
    },
    {
      name: 'not sampled',
      value: `00-${TRACE}-${SPAN}-00`,
      expect: { traceId: TRACE, spanId: SPAN, sampled: false, random: false },
    },
    {
      name: 'the random flag (Level 2) beside sampled',
      value: `00-${TRACE}-${SPAN}-03`,
      expect: { traceId: TRACE, spanId: SPAN, sampled: true, random: true },
    },
    {
      name: 'other flag bits set, sampled and random bits read alone',
      value: `00-${TRACE}-${SPAN}-f4`,
      expect: { traceId: TRACE, spanId: SPAN, sampled: false, random: false },
    },
    {
      name: 'a future version with extra fields (ignored)',
      value: `cc-${TRACE}-${SPAN}-01-what-the-future-holds`,
      expect: { traceId: TRACE, spanId: SPAN, sampled: true, random: false },
    },
    {
      name: 'surrounding whitespace',
      value: `  00-${TRACE}-${SPAN}-00 `,
      expect: { traceId: TRACE, spanId: SPAN, sampled: false, random: false },
    },
  ];
  for (const tc of valid) {
    it(`parses ${tc.name}`, function () {
      expect(parseTraceparent(tc.value)).to.deep.equal(tc.expect);
    });
  }

  const invalid: { name: string; value: string; error: string }[] = [
    { name: 'version ff', value: `ff-${TRACE}-${SPAN}-01`, error: 'version ff is invalid' },
    {
      name: 'an all-zero trace id',
      value: `00-${'0'.repeat(32)}-${SPAN}-01`,
      error: 'must not be all zeros',
    },
    {
      name: 'an all-zero parent id',
      value: `00-${TRACE}-${'0'.repeat(16)}-01`,
      error: 'must not be all zeros',
    },
    { name: 'a short trace id', value: `00-${TRACE.slice(1)}-${SPAN}-01`, error: 'trace id must be 32' },
    { name: 'a long parent id', value: `00-${TRACE}-${SPAN}0-01`, error: 'parent id must be 16' },
    { name: 'uppercase hex', value: `00-${TRACE.toUpperCase()}-${SPAN}-01`, error: 'lowercase hex' },
    {
      name: 'extra fields in version 00',
      value: `00-${TRACE}-${SPAN}-01-extra`,
      error: 'exactly four fields',
    },
    { name: 'three fields', value: `00-${TRACE}-${SPAN}`, error: 'four fields' },
    { name: 'a one-digit version', value: `0-${TRACE}-${SPAN}-01`, error: 'two lowercase hex' },
    { name: 'non-hex flags', value: `00-${TRACE}-${SPAN}-0x`, error: 'flags must be two' },
    { name: 'an empty string', value: '', error: 'four fields' },
  ];
  for (const tc of invalid) {
    it(`refuses ${tc.name}`, function () {
      expect(() => parseTraceparent(tc.value))
        .to.throw(TraceParentError)
        .with.property('message')
        .that.includes(tc.error);
    });
  }

  it('formats version 00 with the sampled and random flags', function () {
    expect(formatTraceparent({ traceId: TRACE, spanId: SPAN, sampled: true, random: false })).to.equal(
      `00-${TRACE}-${SPAN}-01`,
    );
    expect(formatTraceparent({ traceId: TRACE, spanId: SPAN, sampled: false, random: false })).to.equal(
      `00-${TRACE}-${SPAN}-00`,
    );
    expect(formatTraceparent({ traceId: TRACE, spanId: SPAN, sampled: true, random: true })).to.equal(
      `00-${TRACE}-${SPAN}-03`,
    );
    expect(formatTraceparent({ traceId: TRACE, spanId: SPAN, sampled: false, random: true })).to.equal(
      `00-${TRACE}-${SPAN}-02`,
    );
  });
});
