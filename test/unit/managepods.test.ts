import type { V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { pino } from 'pino';
import { FINALIZER_TRACKING } from '../../src/api/constants.js';
import { Expectations } from '../../src/controller/expectations.js';
import {
  BackgroundReleaser,
  managePods,
  MAX_BACKGROUND_RELEASES_IN_FLIGHT,
  MAX_BACKGROUND_REMOVALS_IN_FLIGHT,
  MAX_REMEMBERED_REMOVALS,
  REMOVAL_RETRY_BASE_MS,
  REMOVAL_RETRY_MARGIN_MS,
} from '../../src/controller/managepods.js';
import { makePod } from '../support/podbuilder.js';
import { RecordingClient } from '../support/recording.js';

const silent = pino({ level: 'silent' });

function pods(n: number): V1Pod[] {
  return Array.from({ length: n }, (_, i) => {
    const pod = makePod(`wc-${i}-0`).obj();
    pod.metadata!.namespace = 'ns';
    return pod;
  });
}

/** A client whose patches wait until release(): counts how many are in flight at most. */
class GatedClient {
  inFlight = 0;
  maxInFlight = 0;
  private readonly waiting: (() => void)[] = [];

  deletes = 0;

  deleteNamespacedPod(): Promise<void> {
    this.deletes++;
    return Promise.resolve();
  }

  patchNamespacedPod(): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise((resolve) =>
      this.waiting.push(() => {
        this.inFlight--;
        resolve();
      }),
    );
  }

  /** Answers every patch waiting now; says how many. */
  answerAll(): number {
    const n = this.waiting.length;
    for (const answer of this.waiting.splice(0)) answer();
    return n;
  }
}

/** A finished pod with a uid and a resourceVersion; tracked unless `released`; `deleting`: being deleted. */
function finished(name: string, opts: { rv?: string; released?: boolean; deleting?: boolean } = {}): V1Pod {
  const pod = makePod(name).obj();
  pod.metadata!.namespace = 'ns';
  pod.metadata!.uid = `uid-${name}`;
  pod.metadata!.resourceVersion = opts.rv ?? '1';
  pod.metadata!.finalizers = opts.released ? [] : [FINALIZER_TRACKING];
  if (opts.deleting) pod.metadata!.deletionTimestamp = new Date(0);
  pod.status = { phase: 'Succeeded' };
  return pod;
}

describe('BackgroundReleaser', function () {
  const rows: {
    name: string;
    fail?: { code: number; target: string };
    released: string[];
    retried?: [string, number][];
  }[] = [
    { name: 'releases each pod with one finalizer patch', released: ['wc-0-0', 'wc-1-0', 'wc-2-0'] },
    {
      name: 'leaves out a pod whose patch failed, and has its job reconciled again to release it',
      fail: { code: 500, target: 'ns/wc-1-0' },
      released: ['wc-0-0', 'wc-2-0'],
      retried: [['wc-1-0', REMOVAL_RETRY_BASE_MS]],
    },
    {
      name: 'counts a pod already gone as released',
      fail: { code: 404, target: 'ns/wc-1-0' },
      released: ['wc-0-0', 'wc-1-0', 'wc-2-0'],
    },
  ];
  for (const row of rows) {
    it(row.name, async function () {
      const client = new RecordingClient();
      if (row.fail) client.fail('patchNamespacedPod', row.fail.code, row.fail.target);
      const retried: [string, number][] = [];
      const releaser = new BackgroundReleaser(client, silent, {
        onRetry: (pod, afterMs) => retried.push([pod.metadata!.name!, afterMs]),
      });
      const released = await releaser.release(pods(3));
      expect(released.map((p) => p.metadata!.name).sort()).to.deep.equal(row.released);
      expect(retried).to.deep.equal(row.retried ?? []);
      expect(client.log).to.deep.equal([
        'patchNamespacedPod ns/wc-0-0 release',
        'patchNamespacedPod ns/wc-1-0 release',
        'patchNamespacedPod ns/wc-2-0 release',
      ]);
    });
  }

  it(`keeps at most MAX_BACKGROUND_RELEASES_IN_FLIGHT (${MAX_BACKGROUND_RELEASES_IN_FLIGHT}) patches in flight, over calls`, async function () {
    const client = new GatedClient();
    const releaser = new BackgroundReleaser(client, silent);
    const all = pods(MAX_BACKGROUND_RELEASES_IN_FLIGHT + 10);
    const first = releaser.release(all.slice(0, 20));
    const second = releaser.release(all.slice(20));
    const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
    await tick();
    expect(client.inFlight).to.equal(MAX_BACKGROUND_RELEASES_IN_FLIGHT);
    expect(client.answerAll()).to.equal(MAX_BACKGROUND_RELEASES_IN_FLIGHT);
    await tick();
    expect(client.answerAll()).to.equal(10);
    expect((await first).length + (await second).length).to.equal(MAX_BACKGROUND_RELEASES_IN_FLIGHT + 10);
    expect(client.maxInFlight).to.equal(MAX_BACKGROUND_RELEASES_IN_FLIGHT);
  });
});

describe('managePods: the deletions it waits to see', function () {
  const rows: {
    name: string;
    deleting: boolean;
    /** HTTP status the finalizer patch and the delete fail with (404: the pod is gone). */
    fail?: number;
    calls: string[];
    satisfied: boolean;
  }[] = [
    {
      name: 'a pod it deletes: deleted, released, and its deletion awaited',
      deleting: false,
      calls: ['deleteNamespacedPod ns/p', 'patchNamespacedPod ns/p release'],
      satisfied: false,
    },
    {
      name: 'a pod being deleted already: released only, nothing awaited (the cache counted it deleted)',
      deleting: true,
      calls: ['patchNamespacedPod ns/p release'],
      satisfied: true,
    },
    {
      name: 'a pod being deleted and gone meanwhile (released in the background): nothing awaited',
      deleting: true,
      fail: 404,
      calls: ['patchNamespacedPod ns/p release'],
      satisfied: true,
    },
    {
      name: 'a pod it deletes, gone meanwhile: its deletion counts as seen, nothing left to release',
      deleting: false,
      fail: 404,
      calls: ['deleteNamespacedPod ns/p'],
      satisfied: true,
    },
  ];
  for (const row of rows) {
    it(row.name, async function () {
      const client = new RecordingClient();
      if (row.fail) client.fail('patchNamespacedPod', row.fail).fail('deleteNamespacedPod', row.fail);
      const expectations = new Expectations();
      await managePods(
        client,
        expectations,
        'ns/job',
        { create: [], delete: [finished('p', { deleting: row.deleting })] },
        silent,
      );
      expect(client.log).to.deep.equal(row.calls);
      expect(expectations.satisfied('ns/job')).to.equal(row.satisfied);
    });
  }
});

describe('BackgroundReleaser.remove: finished pods, outside the reconcile', function () {
  const rows: {
    name: string;
    pod: V1Pod;
    held?: boolean;
    fail?: { method: 'patchNamespacedPod' | 'deleteNamespacedPod'; code: number };
    calls: string[];
    released: string[];
  }[] = [
    {
      name: 'a tracked pod: deleted with no grace period, then released (told to the hooks): two events, not three',
      pod: finished('p'),
      calls: ['deleteNamespacedPod ns/p', 'patchNamespacedPod ns/p release'],
      released: ['p'],
    },
    {
      name: 'a held pod (its span not delivered): deleted, its finalizer kept',
      pod: finished('p'),
      held: true,
      calls: ['deleteNamespacedPod ns/p'],
      released: [],
    },
    {
      name: 'a pod being deleted already: released only',
      pod: finished('p', { deleting: true }),
      calls: ['patchNamespacedPod ns/p release'],
      released: ['p'],
    },
    {
      name: 'a pod released already (kept for its logs until now): deleted only',
      pod: finished('p', { released: true }),
      calls: ['deleteNamespacedPod ns/p'],
      released: [],
    },
    {
      name: 'a pod gone already (its delete answered 404): done, and told to the hooks as released',
      pod: finished('p'),
      fail: { method: 'deleteNamespacedPod', code: 404 },
      calls: ['deleteNamespacedPod ns/p'],
      released: ['p'],
    },
    {
      name: 'a held pod gone already: done, not told as released (its span is not settled)',
      pod: finished('p'),
      held: true,
      fail: { method: 'deleteNamespacedPod', code: 404 },
      calls: ['deleteNamespacedPod ns/p'],
      released: [],
    },
    {
      name: 'a failed release: deleted, its finalizer kept (handed over again after a backoff)',
      pod: finished('p'),
      fail: { method: 'patchNamespacedPod', code: 500 },
      calls: ['deleteNamespacedPod ns/p', 'patchNamespacedPod ns/p release'],
      released: [],
    },
  ];
  for (const row of rows) {
    it(row.name, async function () {
      const client = new RecordingClient();
      if (row.fail) client.fail(row.fail.method, row.fail.code);
      const told: string[] = [];
      const releaser = new BackgroundReleaser(client, silent, {
        onReleased: (p) => told.push(...p.map((x) => x.metadata!.name!)),
      });
      expect(releaser.remove([row.pod], new Set(row.held ? [row.pod] : []))).to.equal(1);
      await releaser.idle();
      expect(client.log).to.deep.equal(row.calls);
      expect(told).to.deep.equal(row.released);
    });
  }

  it('hands a pod over once: not while it waits or is in flight, nor after, whatever version a stale cache shows', async function () {
    const client = new RecordingClient();
    const releaser = new BackgroundReleaser(client, silent);
    const none = new Set<V1Pod>();
    const handed = [releaser.remove([finished('p')], none), releaser.remove([finished('p')], none)]; // queued
    await releaser.idle();
    handed.push(releaser.remove([finished('p')], none)); // done; the cache still shows the version handed over
    handed.push(releaser.remove([finished('p', { rv: '2', deleting: true })], none)); // deleted, not yet released
    releaser.gone(finished('p'));
    handed.push(releaser.remove([finished('p')], none)); // a reconcile that listed its pods before the delete event
    await releaser.idle();
    expect(handed).to.deep.equal([1, 0, 0, 0, 0]);
    expect(client.log).to.deep.equal(['deleteNamespacedPod ns/p', 'patchNamespacedPod ns/p release']);
  });

  it('a pod removed while held is handed over again for its release only once it is releasable', async function () {
    const client = new RecordingClient();
    const releaser = new BackgroundReleaser(client, silent);
    const pod = finished('p');
    const handed = [releaser.remove([pod], new Set([pod]))]; // held: deleted, its finalizer kept
    await releaser.idle();
    const deleting = finished('p', { rv: '2', deleting: true });
    handed.push(releaser.remove([deleting], new Set([deleting]))); // still held
    handed.push(releaser.remove([deleting], new Set())); // its span settled, the telemetry's release failed
    await releaser.idle();
    handed.push(releaser.remove([deleting], new Set())); // released now: nothing is left
    expect(handed).to.deep.equal([1, 0, 1, 0]);
    expect(client.log).to.deep.equal(['deleteNamespacedPod ns/p', 'patchNamespacedPod ns/p release']);
  });

  it('after a failed removal (other than 404): its job requeued after a doubling backoff, the pod handed over again once it is over', async function () {
    const client = new RecordingClient().fail('deleteNamespacedPod', 500);
    let now = 0;
    const retries: number[] = [];
    const releaser = new BackgroundReleaser(
      client,
      silent,
      { onRetry: (_pod, afterMs) => retries.push(afterMs) },
      () => now,
    );
    const pod = finished('p', { released: true });
    const handed = [releaser.remove([pod], new Set())];
    await releaser.idle();
    now = REMOVAL_RETRY_BASE_MS - 1;
    handed.push(releaser.remove([pod], new Set())); // backing off
    now = REMOVAL_RETRY_BASE_MS;
    handed.push(releaser.remove([pod], new Set()));
    await releaser.idle();
    expect(handed).to.deep.equal([1, 0, 1]);
    expect(retries).to.deep.equal([
      REMOVAL_RETRY_BASE_MS + REMOVAL_RETRY_MARGIN_MS,
      2 * REMOVAL_RETRY_BASE_MS + REMOVAL_RETRY_MARGIN_MS,
    ]);
    expect(client.log).to.deep.equal(['deleteNamespacedPod ns/p', 'deleteNamespacedPod ns/p']);
  });

  it(`remembers at most MAX_REMEMBERED_REMOVALS (${MAX_REMEMBERED_REMOVALS}) pods, forgetting the oldest done ones, never one queued`, async function () {
    const client = new GatedClient();
    const releaser = new BackgroundReleaser(client, silent);
    const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
    const first = finished('q'); // its release is gated: it stays in flight, the oldest
    releaser.remove([first], new Set());
    const done = Array.from({ length: MAX_REMEMBERED_REMOVALS }, (_, i) =>
      finished(`d${i}`, { released: true }),
    ); // a delete each, answered at once, through the other slots
    releaser.remove(done, new Set());
    while (client.deletes < done.length) await tick();
    releaser.remove([finished('x', { released: true })], new Set()); // one more: the oldest done ones go
    const again = [
      releaser.remove([first], new Set()), // in flight: still remembered
      releaser.remove(done.slice(0, 1), new Set()), // the oldest done one: forgotten, handed over again
      releaser.remove(done.slice(-1), new Set()), // the newest: remembered
    ];
    client.answerAll();
    await releaser.idle();
    expect(again).to.deep.equal([0, 1, 0]);
  });

  it('managePods: creates first, then hands the finished pods over; a running pod is deleted in the reconcile, its deletion awaited', async function () {
    const client = new RecordingClient();
    const expectations = new Expectations();
    const releaser = new BackgroundReleaser(client, silent);
    const running = makePod('r').obj();
    running.metadata!.namespace = 'ns';
    running.status = { phase: 'Running' };
    const create = makePod('c').obj();
    create.metadata!.namespace = 'ns';
    const result = await managePods(
      client,
      expectations,
      'ns/job',
      { create: [create], delete: [finished('p'), running], background: releaser },
      silent,
    );
    await releaser.idle();
    expect([result.handedOver, result.created.length]).to.deep.equal([1, 1]);
    expect(client.log).to.deep.equal([
      'deleteNamespacedPod ns/r',
      'createNamespacedPod ns/c',
      'deleteNamespacedPod ns/p', // handed over after the creates
      'patchNamespacedPod ns/p release',
    ]);
    expectations.observedCreate('ns/job', 'c');
    expect(expectations.satisfied('ns/job')).to.equal(false); // r's deletion, not p's
    expectations.observedDelete('ns/job', 'r');
    expect(expectations.satisfied('ns/job')).to.equal(true);
  });
});

describe('BackgroundReleaser.stop', function () {
  it('drops removals not started yet and waits for those in flight', async function () {
    const client = new GatedClient();
    const releaser = new BackgroundReleaser(client, silent);
    const all = pods(MAX_BACKGROUND_REMOVALS_IN_FLIGHT + 3).map((p, i) => {
      p.metadata!.uid = `uid-${i}`;
      p.metadata!.finalizers = [FINALIZER_TRACKING];
      p.status = { phase: 'Succeeded' };
      return p;
    });
    expect(releaser.remove(all, new Set())).to.equal(all.length);
    await new Promise((r) => setImmediate(r));
    expect(client.inFlight).to.equal(MAX_BACKGROUND_REMOVALS_IN_FLIGHT); // their releases
    const stopped = releaser.stop();
    expect(client.answerAll()).to.equal(MAX_BACKGROUND_REMOVALS_IN_FLIGHT);
    await stopped;
    expect([client.deletes, client.maxInFlight]).to.deep.equal([
      MAX_BACKGROUND_REMOVALS_IN_FLIGHT,
      MAX_BACKGROUND_REMOVALS_IN_FLIGHT,
    ]);
  });
});
