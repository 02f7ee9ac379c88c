// A builder for the bare pods the control-plane tests create: reads like the object it makes.
import type { V1Pod } from '@kubernetes/client-node';

export class PodBuilder {
  private readonly pod: V1Pod;

  constructor(name: string) {
    this.pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: {}, annotations: {} },
      spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox', env: [] }] },
    };
  }

  annotate(key: string, value: string): this {
    this.pod.metadata!.annotations![key] = value;
    return this;
  }

  label(key: string, value: string): this {
    this.pod.metadata!.labels![key] = value;
    return this;
  }

  /** Sets MAPREDUCE_ITEM on the main container, as the operator does. */
  item(value: unknown): this {
    this.pod.spec!.containers[0]!.env!.push({ name: 'MAPREDUCE_ITEM', value: JSON.stringify(value) });
    return this;
  }

  ownedBy(owner: { apiVersion: string; kind: string; name: string; uid: string }): this {
    this.pod.metadata!.ownerReferences = [{ ...owner, controller: true, blockOwnerDeletion: true }];
    return this;
  }

  obj(): V1Pod {
    return structuredClone(this.pod);
  }
}

export function makePod(name: string): PodBuilder {
  return new PodBuilder(name);
}
