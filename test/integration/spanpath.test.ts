// The bench's span path (bench/spanpath.ts) at a small size, so the 100,000-item measurement cannot rot: one
// traced job's pods go through the operator's tracing hooks and span delivery, over OTLP/HTTP, into a real
// receiver that keeps every request; every span arrives exactly once. Sizes and rates are the bench's.
import { expect } from 'chai';
import { measureSpanPath } from '../../bench/spanpath.js';
import { waitFor } from '../support/cluster.js';
import { OtlpReceiver } from '../support/otlpreceiver.js';

describe('span path smoke (bench/spanpath.ts)', function () {
  let receiver: OtlpReceiver;

  beforeEach(async () => {
    receiver = await OtlpReceiver.start();
  });

  afterEach(async () => {
    await receiver.stop();
  });

  it('delivers a 2,000-item job as 2,004 spans, each received once', async () => {
    const r = await measureSpanPath(2000, receiver);
    expect({
      expected: r.expected,
      spans: r.spans,
      copies: r.copies,
      agents: r.agents,
      jobLevel: r.jobLevel,
      delivered: r.delivered,
      dropped: r.dropped,
    }).to.deep.equal({
      expected: 2004,
      spans: 2004,
      copies: 2004,
      agents: 2001,
      jobLevel: 3,
      delivered: 2004,
      dropped: 0,
    });
  });

  it('counts a span received twice: a receiver that records but refuses makes delivery send again', async () => {
    // A 503 that still records: the exporter retries the same spans, so the receiver holds copies. The
    // bench's exactly-once check compares `copies` with `spans`; this proves it can see a duplicate.
    receiver.respondWith({ kind: 'status', status: 503, record: true });
    const run = measureSpanPath(50, receiver);
    await waitFor('a refused request', () => Promise.resolve(receiver.refused > 0));
    receiver.respondWith({ kind: 'accept' });
    const r = await run;
    expect(r.spans).to.equal(54);
    expect(r.copies).to.be.greaterThan(54);
    expect(r.dropped).to.equal(0);
  });
});
