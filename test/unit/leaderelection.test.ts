import { expect } from 'chai';
import type { V1Lease, V1LeaseSpec } from '@kubernetes/client-node';
import { V1MicroTime } from '@kubernetes/client-node';
import { pino } from 'pino';
import {
  heldByAnother,
  LEASE_DURATION_SECONDS,
  LeaderElector,
  observe,
  RENEW_DEADLINE_MS,
  RETRY_PERIOD_MS,
} from '../../src/leaderelection.js';
import type { ElectorClock, LeaseApi } from '../../src/leaderelection.js';
import { apiError } from '../support/recording.js';

/**
 * Simulated time: sleeping advances it on the next turn of the event loop; a timer fires (advancing it) only after the API calls
 * pending at that moment have had their turn, so a call that answers beats its timeout.
 */
class FakeClock implements ElectorClock {
  now = 1_000_000;
  nowMs = (): number => this.now;
  sleep = (ms: number): Promise<void> =>
    new Promise((resolve) =>
      setImmediate(() => {
        this.now += ms;
        resolve();
      }),
    );
  timer = (ms: number): { fired: Promise<void>; cancel: () => void } => {
    let cancelled = false;
    const fired = new Promise<void>((resolve) =>
      setImmediate(() => {
        if (cancelled) return;
        this.now += ms;
        resolve();
      }),
    );
    return { fired, cancel: () => (cancelled = true) };
  };
}

/** One Lease in memory; `hang` makes calls never answer, `failWith` makes them fail. */
class FakeLeaseApi implements LeaseApi {
  lease: V1Lease | undefined;
  hang = false;
  failWith: number | undefined;
  writes = 0;
  /** Runs before every call: what other replicas do meanwhile. */
  world: () => void = () => undefined;

  private async gate(): Promise<void> {
    this.world();
    if (this.hang) await new Promise(() => undefined);
    if (this.failWith) throw apiError(this.failWith);
  }
  async readNamespacedLease(): Promise<V1Lease> {
    await this.gate();
    if (!this.lease) throw apiError(404);
    return structuredClone(this.lease);
  }
  async createNamespacedLease(p: { body: V1Lease }): Promise<V1Lease> {
    await this.gate();
    this.writes++;
    this.lease = structuredClone(p.body);
    return p.body;
  }
  async replaceNamespacedLease(p: { body: V1Lease }): Promise<V1Lease> {
    await this.gate();
    this.writes++;
    this.lease = structuredClone(p.body);
    return p.body;
  }
}

/** A lease held by "other", renewed at a time an hour behind ours (a skewed clock). */
function otherHolds(renewedAt: Date): V1Lease {
  return {
    metadata: { name: 'l', namespace: 'ns' },
    spec: {
      holderIdentity: 'other',
      leaseDurationSeconds: LEASE_DURATION_SECONDS,
      renewTime: new V1MicroTime(renewedAt.getTime()),
    },
  };
}

function elector(api: FakeLeaseApi, clock: FakeClock): LeaderElector {
  return new LeaderElector(api, 'ns', 'l', 'me', pino({ level: 'silent' }), clock);
}

const HOUR_AGO = new Date(Date.now() - 3_600_000);

describe('leader election', function () {
  describe('expiry by this replica’s observation, not the holder’s clock', function () {
    const spec = (holder: string, renewed: number): V1LeaseSpec => ({
      holderIdentity: holder,
      leaseDurationSeconds: 15,
      renewTime: new V1MicroTime(renewed),
    });
    const cases: { name: string; seen: [V1LeaseSpec, number][]; at: number; held: boolean }[] = [
      { name: 'first seen now: held', seen: [[spec('other', 0), 0]], at: 0, held: true },
      { name: 'unchanged for 14.9 s: held', seen: [[spec('other', 0), 0]], at: 14_900, held: true },
      { name: 'unchanged for 15.1 s: expired', seen: [[spec('other', 0), 0]], at: 15_100, held: false },
      {
        name: 'renewed (record changed) at 10 s, looked at 20 s: held',
        seen: [
          [spec('other', 0), 0],
          [spec('other', 1), 10_000],
        ],
        at: 20_000,
        held: true,
      },
      {
        name: 'read again unchanged at 10 s: the observation time does not move',
        seen: [
          [spec('other', 0), 0],
          [spec('other', 0), 10_000],
        ],
        at: 15_100,
        held: false,
      },
      { name: 'no holder (released): free', seen: [[{ holderIdentity: undefined }, 0]], at: 0, held: false },
      { name: 'our own name: not another’s', seen: [[spec('me', 0), 0]], at: 0, held: false },
    ];
    for (const c of cases) {
      it(c.name, function () {
        let observation = undefined as ReturnType<typeof observe> | undefined;
        for (const [s, t] of c.seen) observation = observe(observation, s, t);
        const last = c.seen[c.seen.length - 1]![0];
        expect(heldByAnother(last, 'me', observation!, c.at)).to.equal(c.held);
      });
    }
  });

  it('does not take a lease from a holder with a skewed clock while it renews, and takes it 15 s after it stops', async function () {
    const api = new FakeLeaseApi();
    const clock = new FakeClock();
    const start = clock.now;
    const RENEWING_FOR_MS = 60_000;
    // The holder renews (a new renewTime, an hour behind ours) until 60 s, then stops.
    api.world = () => {
      const t = clock.now - start;
      if (t <= RENEWING_FOR_MS) api.lease = otherHolds(new Date(HOUR_AGO.getTime() + t));
    };
    const e = elector(api, clock);
    await e.acquire();
    const acquiredAfterStopMs = clock.now - start - RENEWING_FOR_MS;
    expect([api.lease?.spec?.holderIdentity, api.lease?.spec?.leaseTransitions]).to.deep.equal(['me', 1]);
    // Taken on the first attempt after 15 s without a change (attempts are 2 s apart).
    expect(acquiredAfterStopMs).to.equal(16_000);
  });

  it('waits the lease duration from first sight for a lease whose renewTime is long past', async function () {
    const api = new FakeLeaseApi();
    const clock = new FakeClock();
    api.lease = otherHolds(HOUR_AGO);
    const e = elector(api, clock);
    const start = clock.now;
    await e.acquire();
    expect(clock.now - start).to.equal(8 * RETRY_PERIOD_MS); // first seen at 0, expired after 16 s > 15 s
    expect(e.isLeader).to.equal(true);
  });

  it('acquires a missing or released lease at once', async function () {
    for (const lease of [undefined, { metadata: { name: 'l' }, spec: { leaseTransitions: 3 } }]) {
      const api = new FakeLeaseApi();
      api.lease = lease;
      const clock = new FakeClock();
      const start = clock.now;
      await elector(api, clock).acquire();
      expect([clock.now - start, api.lease?.spec?.holderIdentity]).to.deep.equal([0, 'me']);
    }
  });

  const lossCases: { name: string; breakApi: (api: FakeLeaseApi) => void; why: string; within: number }[] = [
    {
      name: 'renewals failing',
      breakApi: (api) => (api.failWith = 500),
      why: `no renewal succeeded within ${RENEW_DEADLINE_MS} ms`,
      within: RENEW_DEADLINE_MS + RETRY_PERIOD_MS,
    },
    {
      name: 'renewals hanging',
      breakApi: (api) => (api.hang = true),
      why: `no renewal succeeded within ${RENEW_DEADLINE_MS} ms`,
      within: RENEW_DEADLINE_MS + RETRY_PERIOD_MS,
    },
    {
      name: 'another replica holding the lease',
      breakApi: (api) => (api.lease = otherHolds(new Date())),
      why: 'another replica holds the lease',
      within: RETRY_PERIOD_MS,
    },
  ];
  for (const c of lossCases) {
    it(`a leader loses at once on ${c.name}`, async function () {
      const api = new FakeLeaseApi();
      const clock = new FakeClock();
      const e = elector(api, clock);
      await e.acquire();
      // Three good renewals after the acquiring write, then the API breaks.
      let brokeAt = 0;
      api.world = () => {
        if (api.writes === 4 && brokeAt === 0) {
          brokeAt = clock.now;
          c.breakApi(api);
        }
      };
      const lost = new Promise<{ why: string; afterMs: number }>((resolve) => {
        void e.renewLoop((why) => resolve({ why, afterMs: clock.now - brokeAt }));
      });
      const { why, afterMs } = await lost;
      expect([api.writes, why, e.isLeader]).to.deep.equal([4, c.why, false]);
      expect(afterMs).to.be.at.most(c.within);
    });
  }
});
