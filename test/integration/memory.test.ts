// The bench's memory run (bench/memory.ts) at a small size, so the 100,000-item measurement cannot rot: the
// compiled operator (dist/, built by npm test first) with the image's V8 flags runs a 20-item job to its end,
// and its memory is read from /proc and from the probe it loads; a traced one with a reduce settles, and what
// it left is read (its spans from a real receiver, its ConfigMaps and Events).
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

  it('settles a traced 20-item job with a reduce and reads what it left: every span once, its ConfigMaps, its Events', async function () {
    this.timeout(180_000);
    const r = await measureMemory({
      items: 20,
      parallelism: 10,
      duration: '200ms',
      tracing: true,
      reduce: true,
    });
    const after = r.after!;
    expect({
      phase: r.phase,
      settled: after.settledSeconds !== undefined,
      podsLeft: after.podsLeft,
      delivery: after.delivery,
      // The input snapshot and one results piece, a ConfigMap each.
      configMaps: after.configMaps.count,
    }).to.deep.equal({
      phase: 'Succeeded',
      settled: true,
      podsLeft: 0,
      // 20 map attempts and the reduce's; the map phase, the reduce phase, the job.
      delivery: { expected: 24, spans: 24, copies: 24, agent: 21, map: 1, reduce: 1, job: 1, duplicates: 0 },
      configMaps: 2,
    });
    expect(after.statusBytes).to.be.greaterThan(0);
    expect(after.configMaps.bytes).to.be.greaterThan(0);
    expect(after.events.count).to.be.greaterThan(0);
    expect(after.events.bytes).to.be.greaterThan(0);
  });
});
