// The bench's memory run (bench/memory.ts) at a small size, so the 100,000-item measurement cannot rot: the
// compiled operator (dist/, built by npm test first) with the image's V8 flags runs a 20-item job to its end,
// and its memory is read from /proc and from the probe it loads.
import { expect } from 'chai';
import { measureMemory, operatorNodeOptions } from '../../bench/memory.js';

describe('memory run smoke (bench/memory.ts)', function () {
  it('runs a 20-item job through the compiled operator with the image’s V8 flags and reads its memory', async function () {
    this.timeout(180_000);
    const r = await measureMemory({ items: 20, parallelism: 10, duration: '200ms' });
    expect({ items: r.items, succeeded: r.succeeded, finished: r.seconds !== undefined }).to.deep.equal({
      items: 20,
      succeeded: 20,
      finished: true,
    });
    expect(r.nodeOptions).to.deep.equal(['--max-semi-space-size=16', '--max-old-space-size=256']);
    expect(r.nodeOptions).to.deep.equal(operatorNodeOptions());
    expect(r.baselineMb).to.be.greaterThan(0);
    expect(r.peakMb).to.be.at.least(r.baselineMb);
    // The probe ran in the operator: it saw a V8 heap.
    expect(r.maxHeapUsedMb).to.be.greaterThan(0);
  });
});
