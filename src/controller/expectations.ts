// Expectations, as the Job controller keeps them: after creating or deleting pods, a job is not
// reconciled again until the informer cache has seen those very pods come and go, so a reconcile never
// acts twice on a stale cache.

/** An expectation not met by then is dropped (a missed watch event must not stall a job forever). */
export const EXPECTATIONS_TIMEOUT_MS = 5 * 60 * 1000;

interface Pending {
  adds: Set<string>;
  deletes: Set<string>;
  setAt: number;
}

export class Expectations {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly clock: () => number = Date.now) {}

  private entry(key: string): Pending {
    let e = this.pending.get(key);
    if (!e) {
      e = { adds: new Set(), deletes: new Set(), setAt: this.clock() };
      this.pending.set(key, e);
    }
    return e;
  }

  expectCreate(key: string, podName: string): void {
    this.entry(key).adds.add(podName);
  }

  expectDelete(key: string, podName: string): void {
    this.entry(key).deletes.add(podName);
  }

  /** The informer saw the pod (or the create failed, so it will never be seen). */
  observedCreate(key: string, podName: string): void {
    this.pending.get(key)?.adds.delete(podName);
  }

  observedDelete(key: string, podName: string): void {
    this.pending.get(key)?.deletes.delete(podName);
  }

  satisfied(key: string): boolean {
    const e = this.pending.get(key);
    if (!e) return true;
    if ((e.adds.size === 0 && e.deletes.size === 0) || this.clock() - e.setAt > EXPECTATIONS_TIMEOUT_MS) {
      this.pending.delete(key);
      return true;
    }
    return false;
  }

  /**
   * How long until the job's pending expectations expire; 0 when none are pending or they have expired. A
   * job waiting on them is looked at again then: the pods' events normally end the wait sooner, but should
   * one be missed (a watch broken by an API server restart), no other event may ever come for the job.
   */
  expiresInMs(key: string): number {
    const e = this.pending.get(key);
    return e ? Math.max(0, e.setAt + EXPECTATIONS_TIMEOUT_MS - this.clock()) : 0;
  }

  forget(key: string): void {
    this.pending.delete(key);
  }
}
