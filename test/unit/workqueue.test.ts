import { expect } from 'chai';
import { RATE_LIMIT_BASE_MS, WorkQueue } from '../../src/controller/workqueue.js';

describe('WorkQueue', function () {
  it('hands out a key once however often it is added', async function () {
    const q = new WorkQueue();
    q.add('ns/a');
    q.add('ns/a');
    q.add('ns/b');
    expect(q.length).to.equal(2);
    expect(await q.get()).to.equal('ns/a');
    expect(await q.get()).to.equal('ns/b');
    expect(q.length).to.equal(0);
  });

  it('does not hand out a key being processed; re-queues it when done if it was added meanwhile', async function () {
    const q = new WorkQueue();
    q.add('ns/a');
    const key = await q.get();
    q.add('ns/a');
    expect(q.length).to.equal(0);
    q.done(key!);
    expect(q.length).to.equal(1);
    expect(await q.get()).to.equal('ns/a');
  });

  it('wakes a waiting worker when a key arrives', async function () {
    const q = new WorkQueue();
    const pending = q.get();
    q.add('ns/late');
    expect(await pending).to.equal('ns/late');
  });

  it('backs off failures exponentially per key and forgets them on success', function () {
    const q = new WorkQueue();
    q.addRateLimited('ns/a');
    q.addRateLimited('ns/a');
    expect(q.numRequeues('ns/a')).to.equal(2);
    expect(RATE_LIMIT_BASE_MS).to.equal(100);
    q.forget('ns/a');
    expect(q.numRequeues('ns/a')).to.equal(0);
    q.shutdown();
  });

  it('resolves waiting workers with undefined on shutdown', async function () {
    const q = new WorkQueue();
    const pending = q.get();
    q.shutdown();
    expect(await pending).to.equal(undefined);
  });

  it('reports how long a key waited, by its clock', async function () {
    let now = 1000;
    const q = new WorkQueue(() => now);
    q.add('ns/a');
    now = 1250;
    const key = await q.get();
    expect(q.waitedMs(key!)).to.equal(250);
  });
});
