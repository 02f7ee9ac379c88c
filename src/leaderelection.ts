// Leader election on a coordination.k8s.io Lease, with client-go's timings, so two replicas never
// reconcile at once. The leader renews; a standby takes over once the lease has expired.
import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node';
import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isConflict, isNotFound } from './apierrors.js';

/** How long a lease is valid without renewal (client-go's default). */
export const LEASE_DURATION_SECONDS = 15;
/** A leader that cannot renew within this long steps down (before others may take over). */
export const RENEW_DEADLINE_MS = 10_000;
/** How often the leader renews and standbys try to acquire. */
export const RETRY_PERIOD_MS = 2_000;

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private stopped = false;
  private leading = false;

  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
    private readonly name: string,
    readonly identity: string,
    private readonly log: Logger,
  ) {
    this.api = kc.makeApiClient(CoordinationV1Api);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Resolves once this replica leads. */
  async acquire(): Promise<void> {
    this.log.info(
      { lease: `${this.namespace}/${this.name}`, identity: this.identity },
      'waiting to become leader',
    );
    while (!this.stopped) {
      if (await this.tryAcquireOrRenew()) {
        this.leading = true;
        this.log.info({ lease: `${this.namespace}/${this.name}` }, 'became leader');
        return;
      }
      await sleep(RETRY_PERIOD_MS);
    }
  }

  /** Renews until renewal fails for RENEW_DEADLINE_MS; then calls onLost (the process should exit). */
  renewLoop(onLost: () => void): void {
    let lastRenew = Date.now();
    const tick = async (): Promise<void> => {
      if (this.stopped) return;
      if (await this.tryAcquireOrRenew()) lastRenew = Date.now();
      else if (Date.now() - lastRenew > RENEW_DEADLINE_MS) {
        this.leading = false;
        this.log.error('lost leadership');
        onLost();
        return;
      }
      setTimeout(() => void tick(), RETRY_PERIOD_MS).unref();
    };
    setTimeout(() => void tick(), RETRY_PERIOD_MS).unref();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    // A Lease's times are MicroTime: the API server refuses them with milliseconds only.
    const now = new V1MicroTime();
    try {
      let lease: V1Lease;
      try {
        lease = await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace });
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await this.api.createNamespacedLease({
          namespace: this.namespace,
          body: {
            metadata: { name: this.name, namespace: this.namespace },
            spec: {
              holderIdentity: this.identity,
              leaseDurationSeconds: LEASE_DURATION_SECONDS,
              acquireTime: now,
              renewTime: now,
              leaseTransitions: 0,
            },
          },
        });
        return true;
      }
      const spec = lease.spec ?? {};
      const renewedAt = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
      const expired =
        renewedAt + (spec.leaseDurationSeconds ?? LEASE_DURATION_SECONDS) * 1000 < now.getTime();
      const mine = spec.holderIdentity === this.identity;
      if (!mine && !expired && spec.holderIdentity) return false;
      lease.spec = {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: LEASE_DURATION_SECONDS,
        renewTime: now,
        acquireTime: mine && spec.acquireTime ? new V1MicroTime(spec.acquireTime) : now,
        ...(mine ? {} : { leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
      };
      await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body: lease });
      return true;
    } catch (err) {
      // A conflict means another replica wrote first; anything else is retried on the next period.
      if (!isConflict(err)) this.log.warn({ err }, 'leader election: lease update failed');
      return false;
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
