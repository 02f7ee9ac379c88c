import type { V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { pino } from 'pino';
import { FINALIZER_TRACKING } from '../../src/api/constants.js';
import { Expectations } from '../../src/controller/expectations.js';
import {
  BackgroundReleaser,
  managePods,
  MAX_BACKGROUND_RELEASES_IN_FLIGHT,
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

describe('BackgroundReleaser', function () {
  const rows: { name: string; fail?: { code: number; target: string }; released: string[] }[] = [
    { name: 'releases each pod with one finalizer patch', released: ['wc-0-0', 'wc-1-0', 'wc-2-0'] },
    {
      name: 'leaves out a pod whose patch failed (its job’s next reconcile releases it)',
      fail: { code: 500, target: 'ns/wc-1-0' },
      released: ['wc-0-0', 'wc-2-0'],
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
      const released = await new BackgroundReleaser(client, silent).release(pods(3));
      expect(released.map((p) => p.metadata!.name).sort()).to.deep.equal(row.released);
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
  /** A finished, tracked pod; `deleting`: its deletionTimestamp is set already. */
  function finished(name: string, deleting: boolean): V1Pod {
    const pod = makePod(name).obj();
    pod.metadata!.namespace = 'ns';
    pod.metadata!.finalizers = [FINALIZER_TRACKING];
    if (deleting) pod.metadata!.deletionTimestamp = new Date(0);
    pod.status = { phase: 'Succeeded' };
    return pod;
  }
  const rows: {
    name: string;
    deleting: boolean;
    /** HTTP status the finalizer patch and the delete fail with (404: the pod is gone). */
    fail?: number;
    calls: string[];
    satisfied: boolean;
  }[] = [
    {
      name: 'a pod it deletes: released, deleted, and its deletion awaited',
      deleting: false,
      calls: ['patchNamespacedPod ns/p release', 'deleteNamespacedPod ns/p'],
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
      name: 'a pod it deletes, gone meanwhile: its deletion counts as seen',
      deleting: false,
      fail: 404,
      calls: ['patchNamespacedPod ns/p release', 'deleteNamespacedPod ns/p'],
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
        { create: [], delete: [finished('p', row.deleting)] },
        silent,
      );
      expect(client.log).to.deep.equal(row.calls);
      expect(expectations.satisfied('ns/job')).to.equal(row.satisfied);
    });
  }
});
