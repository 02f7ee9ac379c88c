// Leader election on a coordination.k8s.io Lease, as client-go's leaderelection package does it, so two
// replicas never reconcile at once:
// - a lease is expired when this replica has not seen its record change for leaseDurationSeconds, by this
//   replica's own clock: the holder's renewTime is never compared with our clock, so a holder whose clock
//   is skewed keeps its lease as long as it keeps renewing;
// - the leader renews every RETRY_PERIOD_MS, each attempt bounded by what is left of RENEW_DEADLINE_MS; a
//   leader that cannot renew by then, or that sees another holder, has lost and must stop at once (the
//   caller exits), before a standby may take over (RENEW_DEADLINE_MS < LEASE_DURATION_SECONDS).
import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node';
import type { KubeConfig, V1Lease, V1LeaseSpec } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isConflict, isNotFound } from './apierrors.js';

/** How long a lease is valid without renewal (client-go's and controller-runtime's default). */
export const LEASE_DURATION_SECONDS = 15;
/** A leader that cannot renew within this long has lost: shorter than the lease, so it stops first. */
export const RENEW_DEADLINE_MS = 10_000;
/** How often the leader renews and standbys try to acquire. */
export const RETRY_PERIOD_MS = 2_000;

/** The Lease calls the elector makes (a real API client, or a recording one in tests). */
export type LeaseApi = Pick<
  CoordinationV1Api,
  'readNamespacedLease' | 'createNamespacedLease' | 'replaceNamespacedLease'
>;

/** What this replica last saw of the lease record, and when by its own (monotonic) clock. */
export interface Observation {
  record: string;
  atMs: number;
}

/** The record as client-go compares it: holder, times, duration and transitions. */
export function leaseRecord(spec: V1LeaseSpec | undefined): string {
  const s = spec ?? {};
  return JSON.stringify([
    s.holderIdentity ?? '',
    s.leaseDurationSeconds ?? 0,
    s.acquireTime ? new Date(s.acquireTime).toISOString() : '',
    s.renewTime ? new Date(s.renewTime).toISOString() : '',
    s.leaseTransitions ?? 0,
  ]);
}

/** The new observation after reading the lease: the time moves only when the record changed. Pure. */
export function observe(
  previous: Observation | undefined,
  spec: V1LeaseSpec | undefined,
  nowMs: number,
): Observation {
  const record = leaseRecord(spec);
  return previous?.record === record ? previous : { record, atMs: nowMs };
}

/** Whether another replica holds the lease: it names a holder we have seen renew within its duration. Pure. */
export function heldByAnother(
  spec: V1LeaseSpec | undefined,
  identity: string,
  observation: Observation,
  nowMs: number,
): boolean {
  const holder = spec?.holderIdentity;
  if (!holder || holder === identity) return false;
  const durationMs = (spec?.leaseDurationSeconds ?? LEASE_DURATION_SECONDS) * 1000;
  return observation.atMs + durationMs > nowMs;
}

/** The outcome of one attempt: the lease is ours, another replica holds it, or the API call failed. */
export type AttemptResult = 'held' | 'taken' | 'failed';

export interface ElectorClock {
  /** Monotonic milliseconds, for expiry and deadlines. */
  nowMs: () => number;
  sleep: (ms: number) => Promise<void>;
  /** A timer that resolves after ms unless cancelled first. */
  timer: (ms: number) => { fired: Promise<void>; cancel: () => void };
}

const realClock: ElectorClock = {
  nowMs: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()),
  timer: (ms) => {
    let handle: NodeJS.Timeout | undefined;
    const fired = new Promise<void>((resolve) => {
      handle = setTimeout(resolve, ms).unref();
    });
    return { fired, cancel: () => clearTimeout(handle) };
  },
};

export class LeaderElector {
  private stopped = false;
  private leading = false;
  private observation: Observation | undefined;

  constructor(
    private readonly api: LeaseApi,
    private readonly namespace: string,
    private readonly name: string,
    readonly identity: string,
    private readonly log: Logger,
    private readonly clock: ElectorClock = realClock,
  ) {}

  static forConfig(
    kc: KubeConfig,
    namespace: string,
    name: string,
    identity: string,
    log: Logger,
  ): LeaderElector {
    return new LeaderElector(kc.makeApiClient(CoordinationV1Api), namespace, name, identity, log);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Resolves once this replica leads (or stays pending after stop()). */
  async acquire(): Promise<void> {
    this.log.info(
      { lease: `${this.namespace}/${this.name}`, identity: this.identity },
      'waiting to become leader',
    );
    while (!this.stopped) {
      if ((await this.attempt(RETRY_PERIOD_MS)) === 'held') {
        this.leading = true;
        this.log.info({ lease: `${this.namespace}/${this.name}` }, 'became leader');
        return;
      }
      await this.clock.sleep(RETRY_PERIOD_MS);
    }
  }

  /**
   * Renews every RETRY_PERIOD_MS. Calls onLost once, at once, when another replica holds the lease or no
   * renewal succeeded for RENEW_DEADLINE_MS; the caller must stop working (exit).
   */
  async renewLoop(onLost: (why: string) => void): Promise<void> {
    let lastRenewMs = this.clock.nowMs();
    while (!this.stopped) {
      await this.clock.sleep(RETRY_PERIOD_MS);
      if (this.stopped) return;
      const left = lastRenewMs + RENEW_DEADLINE_MS - this.clock.nowMs();
      const result = left > 0 ? await this.attempt(left) : 'failed';
      if (result === 'held') {
        lastRenewMs = this.clock.nowMs();
        continue;
      }
      if (result === 'taken' || this.clock.nowMs() - lastRenewMs >= RENEW_DEADLINE_MS) {
        this.leading = false;
        const why =
          result === 'taken'
            ? 'another replica holds the lease'
            : `no renewal succeeded within ${RENEW_DEADLINE_MS} ms`;
        this.log.error({ lease: `${this.namespace}/${this.name}`, why }, 'lost leadership');
        onLost(why);
        return;
      }
    }
  }

  /** One read-and-write of the lease, given up after timeoutMs (as client-go's per-attempt context). */
  async attempt(timeoutMs: number): Promise<AttemptResult> {
    const timer = this.clock.timer(timeoutMs);
    try {
      return await Promise.race([this.tryAcquireOrRenew(), timer.fired.then(() => 'failed' as const)]);
    } finally {
      timer.cancel();
    }
  }

  private async tryAcquireOrRenew(): Promise<AttemptResult> {
    // A Lease's times are MicroTime: the API server refuses them with milliseconds only.
    const now = new V1MicroTime();
    try {
      let lease: V1Lease;
      try {
        lease = await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace });
      } catch (err) {
        if (!isNotFound(err)) throw err;
        const spec: V1LeaseSpec = {
          holderIdentity: this.identity,
          leaseDurationSeconds: LEASE_DURATION_SECONDS,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: 0,
        };
        await this.api.createNamespacedLease({
          namespace: this.namespace,
          body: { metadata: { name: this.name, namespace: this.namespace }, spec },
        });
        this.observation = { record: leaseRecord(spec), atMs: this.clock.nowMs() };
        return 'held';
      }
      const spec = lease.spec ?? {};
      this.observation = observe(this.observation, spec, this.clock.nowMs());
      if (heldByAnother(spec, this.identity, this.observation, this.clock.nowMs())) return 'taken';
      const mine = spec.holderIdentity === this.identity;
      lease.spec = {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: LEASE_DURATION_SECONDS,
        renewTime: now,
        acquireTime: mine && spec.acquireTime ? new V1MicroTime(spec.acquireTime) : now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      };
      await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body: lease });
      this.observation = { record: leaseRecord(lease.spec), atMs: this.clock.nowMs() };
      return 'held';
    } catch (err) {
      // A conflict means another replica wrote first; anything else is retried on the next period.
      if (!isConflict(err)) this.log.warn({ err }, 'leader election: lease update failed');
      return 'failed';
    }
  }

  /** Gives the lease up so a standby takes over at once instead of after it expires. */
  async release(): Promise<void> {
    this.stopped = true;
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace });
      if (lease.spec?.holderIdentity !== this.identity) return;
      lease.spec = { ...lease.spec, holderIdentity: undefined, renewTime: undefined, acquireTime: undefined };
      await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body: lease });
    } catch (err) {
      this.log.warn({ err }, 'could not release the leader lease');
    }
  }
}
