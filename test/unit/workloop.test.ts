import { expect } from 'chai';
import { ApiException } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { ReconcileOutcome } from '../../src/controller/hooks.js';
import { RECONCILE_WEDGED_AFTER_MS, WorkLoop } from '../../src/controller/workloop.js';
import { WorkQueue } from '../../src/controller/workqueue.js';
import { apiError } from '../support/recording.js';

/** A work loop whose sync answers from a script, over a queue whose delays are recorded, not run. */
function loopWith(answers: (number | undefined | Error)[]): {
  loop: WorkLoop;
  queue: WorkQueue;
  delays: number[];
  outcomes: ReconcileOutcome['result'][];
} {
  const delays: number[] = [];
  const outcomes: ReconcileOutcome['result'][] = [];
  const queue = new WorkQueue(Date.now, (_fn, ms) => (delays.push(ms), { cancel: () => undefined }));
  const sync = (): Promise<number | undefined> => {
    const a = answers.shift();
    return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
  };
  const loop = new WorkLoop(
    queue,
    sync,
    { reconciled: (o) => outcomes.push(o.result) },
    pino({ level: 'silent' }),
  );
  return { loop, queue, delays, outcomes };
}

async function processOnce(queue: WorkQueue, loop: WorkLoop): Promise<void> {
  queue.add('ns/a');
  await loop.process((await queue.get())!);
}

describe('WorkLoop', function () {
  const cases: {
    name: string;
    answers: (number | undefined | Error)[];
    delays: number[];
    outcomes: string[];
  }[] = [
    {
      name: 'a reconcile with nothing to wait for schedules nothing',
      answers: [undefined],
      delays: [],
      outcomes: ['success'],
    },
    {
      name: 'a reconcile that asks to look again in 750 ms is requeued after 750 ms',
      answers: [750],
      delays: [750],
      outcomes: ['requeue'],
    },
    {
      name: 'failures back off per key (100, 200, 400 ms); a success starts the backoff over',
      answers: [new Error('boom'), apiError(500), apiError(409), undefined, new Error('again')],
      delays: [100, 200, 400, 100],
      outcomes: ['error', 'error', 'error', 'success', 'error'],
    },
    {
      name: 'a throttled API server (429, Retry-After: 3) is waited out as asked',
      answers: [new ApiException(429, 'Too Many Requests', '', { 'retry-after': '3' })],
      delays: [3000],
      outcomes: ['error'],
    },
  ];
  for (const tc of cases) {
    it(tc.name, async function () {
      const { loop, queue, delays, outcomes } = loopWith([...tc.answers]);
      for (let i = 0; i < tc.answers.length; i++) await processOnce(queue, loop);
      expect(delays).to.deep.equal(tc.delays);
      expect(outcomes).to.deep.equal(tc.outcomes);
      expect(queue.length).to.equal(0);
    });
  }

  it('runs workers until stopped, then takes no more work', async function () {
    const { loop, queue, outcomes } = loopWith([undefined, undefined]);
    loop.start(2);
    queue.add('ns/a');
    queue.add('ns/b');
    await new Promise((resolve) => setImmediate(resolve));
    await loop.stop();
    queue.add('ns/c');
    expect(outcomes).to.deep.equal(['success', 'success']);
    expect(queue.length).to.equal(0);
  });

  it('is wedged (for /healthz) while a reconcile runs past RECONCILE_WEDGED_AFTER_MS, and well again after', async function () {
    const queue = new WorkQueue();
    let finish: (() => void) | undefined;
    const sync = (): Promise<undefined> => new Promise((resolve) => (finish = () => resolve(undefined)));
    const loop = new WorkLoop(queue, sync, { reconciled: () => undefined }, pino({ level: 'silent' }));
    queue.add('ns/stuck');
    const startedAt = performance.now();
    const running = loop.process((await queue.get())!);
    const seen = [
      loop.wedged(startedAt + RECONCILE_WEDGED_AFTER_MS - 1000),
      loop.wedged(startedAt + RECONCILE_WEDGED_AFTER_MS + 2000)?.replace(/\d+ s$/, 'N s'),
    ];
    finish!();
    await running;
    seen.push(loop.wedged(startedAt + RECONCILE_WEDGED_AFTER_MS + 2000));
    expect(seen).to.deep.equal([undefined, 'the reconcile of ns/stuck has run for N s', undefined]);
  });

  it('is wedged when a worker stops although the loop was not stopped', async function () {
    const queue = new WorkQueue();
    const throwing = {
      reconciled: () => {
        throw new Error('a hook bug');
      },
    };
    const loop = new WorkLoop(queue, () => Promise.resolve(undefined), throwing, pino({ level: 'silent' }));
    loop.start(2);
    const before = loop.wedged();
    queue.add('ns/a');
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect([before, loop.wedged()]).to.deep.equal([undefined, '1 worker(s) stopped unexpectedly']);
  });
});
