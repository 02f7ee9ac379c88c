import { expect } from 'chai';
import {
  MAX_DELAY_MS,
  RATE_LIMIT_BASE_MS,
  RATE_LIMIT_MAX_MS,
  WorkQueue,
} from '../../src/controller/workqueue.js';
import type { Schedule } from '../../src/controller/workqueue.js';

interface ScheduledCallRecord {
  delayMs: number;
  fn: () => void;
  state: 'pending' | 'cancelled' | 'fired';
}

/** A timer that only records what the queue asks for; the test decides when a call fires. */
class RecordingTimer {
  readonly calls: ScheduledCallRecord[] = [];

  readonly schedule: Schedule = (fn, delayMs) => {
    const call: ScheduledCallRecord = { delayMs, fn, state: 'pending' };
    this.calls.push(call);
    return {
      cancel: () => {
        if (call.state === 'pending') call.state = 'cancelled';
      },
    };
  };

  /** Every delay asked for, in order, including those later cancelled. */
  delays(): number[] {
    return this.calls.map((c) => c.delayMs);
  }

  /** The delays of calls neither cancelled nor fired. */
  pending(): number[] {
    return this.calls.filter((c) => c.state === 'pending').map((c) => c.delayMs);
  }

  firePending(): void {
    for (const c of this.calls.filter((call) => call.state === 'pending')) {
      c.state = 'fired';
      c.fn();
    }
  }
}

/** Keys handed out now, without waiting for more. */
async function drain(q: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (q.length > 0) {
    const key = await q.get();
    keys.push(key!);
    q.done(key!);
  }
  return keys;
}

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

  it('backs off failures exponentially per key, from 100 ms up to a 5 minute cap', async function () {
    expect(RATE_LIMIT_BASE_MS).to.equal(100);
    expect(RATE_LIMIT_MAX_MS).to.equal(300_000);
    const timer = new RecordingTimer();
    const q = new WorkQueue(Date.now, timer.schedule);
    for (let i = 0; i < 14; i++) q.addRateLimited('ns/a');
    expect(timer.delays()).to.deep.equal([
      100, 200, 400, 800, 1600, 3200, 6400, 12_800, 25_600, 51_200, 102_400, 204_800, 300_000, 300_000,
    ]);
    expect(q.numRequeues('ns/a')).to.equal(14);
    expect(timer.pending()).to.deep.equal([300_000]); // each retry replaces the one before
    timer.firePending();
    expect(await drain(q)).to.deep.equal(['ns/a']);
  });

  it('stays at the cap however many failures a key has', function () {
    const timer = new RecordingTimer();
    const q = new WorkQueue(Date.now, timer.schedule);
    for (let i = 0; i < 1100; i++) q.addRateLimited('ns/a'); // 2 ** 1099 is Infinity in a double
    expect(new Set(timer.delays().slice(12))).to.deep.equal(new Set([RATE_LIMIT_MAX_MS]));
  });

  const backoffCases: { name: string; steps: string[]; delays: number[] }[] = [
    {
      name: 'keys back off independently',
      steps: ['fail ns/a', 'fail ns/a', 'fail ns/b', 'fail ns/a', 'fail ns/b'],
      delays: [100, 200, 100, 400, 200],
    },
    {
      name: 'forget() starts the key over at 100 ms',
      steps: ['fail ns/a', 'fail ns/a', 'fail ns/a', 'forget ns/a', 'fail ns/a', 'fail ns/a'],
      delays: [100, 200, 400, 100, 200],
    },
    {
      name: 'forget() of one key leaves the others’ backoff',
      steps: ['fail ns/a', 'fail ns/b', 'fail ns/b', 'forget ns/a', 'fail ns/a', 'fail ns/b'],
      delays: [100, 100, 200, 100, 400],
    },
  ];
  for (const tc of backoffCases) {
    it(`backoff: ${tc.name}`, function () {
      const timer = new RecordingTimer();
      const q = new WorkQueue(Date.now, timer.schedule);
      for (const step of tc.steps) {
        const [op, key] = step.split(' ') as ['fail' | 'forget', string];
        if (op === 'fail') q.addRateLimited(key);
        else q.forget(key);
      }
      expect(timer.delays()).to.deep.equal(tc.delays);
      q.shutdown();
    });
  }

  const addAfterCases: {
    name: string;
    calls: [key: string, delayMs: number][];
    /** Delays still pending after the calls. */
    pending: number[];
    /** Keys queued at once, before any delay ends. */
    queuedNow: string[];
    /** Keys queued once the pending delays end (the queue drained between). */
    queuedLater: string[];
  }[] = [
    {
      name: 'the key is queued when its delay ends, not before',
      calls: [['ns/a', 500]],
      pending: [500],
      queuedNow: [],
      queuedLater: ['ns/a'],
    },
    {
      name: 'a later, longer delay for the same key replaces a pending shorter one',
      calls: [
        ['ns/a', 100],
        ['ns/a', 500],
      ],
      pending: [500],
      queuedNow: [],
      queuedLater: ['ns/a'],
    },
    {
      name: 'a later, shorter delay for the same key replaces a pending longer one',
      calls: [
        ['ns/a', 500],
        ['ns/a', 100],
      ],
      pending: [100],
      queuedNow: [],
      queuedLater: ['ns/a'],
    },
    {
      name: 'delays of different keys are independent',
      calls: [
        ['ns/a', 100],
        ['ns/b', 500],
      ],
      pending: [100, 500],
      queuedNow: [],
      queuedLater: ['ns/a', 'ns/b'],
    },
    {
      name: 'no delay queues the key at once and leaves a pending delay in place',
      calls: [
        ['ns/a', 500],
        ['ns/a', 0],
      ],
      pending: [500],
      queuedNow: ['ns/a'],
      queuedLater: ['ns/a'],
    },
  ];
  for (const tc of addAfterCases) {
    it(`addAfter: ${tc.name}`, async function () {
      const timer = new RecordingTimer();
      const q = new WorkQueue(Date.now, timer.schedule);
      for (const [key, delayMs] of tc.calls) q.addAfter(key, delayMs);
      expect(timer.pending()).to.deep.equal(tc.pending);
      expect(await drain(q)).to.deep.equal(tc.queuedNow);
      timer.firePending();
      expect(await drain(q)).to.deep.equal(tc.queuedLater);
    });
  }

  it('cancels pending delays on shutdown and schedules none after', function () {
    const timer = new RecordingTimer();
    const q = new WorkQueue(Date.now, timer.schedule);
    q.addAfter('ns/a', 100);
    q.addAfter('ns/b', 200);
    q.addRateLimited('ns/c');
    q.shutdown();
    expect(timer.calls.map((c) => c.state)).to.deep.equal(['cancelled', 'cancelled', 'cancelled']);
    q.addAfter('ns/d', 100);
    q.addRateLimited('ns/e');
    expect(timer.calls).to.have.length(3);
  });

  it('queues a delayed key with the real timer', async function () {
    const q = new WorkQueue();
    q.addAfter('ns/a', 5);
    expect(q.length).to.equal(0);
    expect(await q.get()).to.equal('ns/a');
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

  it('waits at most MAX_DELAY_MS for a timed look (a 30-day TTL would overflow Node’s timer and spin)', function () {
    const timer = new RecordingTimer();
    const q = new WorkQueue(Date.now, timer.schedule);
    q.addAfter('ns/ttl', 30 * 24 * 3600 * 1000);
    expect(timer.delays()).to.deep.equal([MAX_DELAY_MS]);
    expect(MAX_DELAY_MS).to.equal(3_600_000);
  });
});
