// A builder for MapReduceJobs in tests: makeJob('wc').items(['a', 'b']).parallelism(2).reduce().obj()
import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../../src/api/types.js';
import type { JsonValue, MapReduceJob } from '../../src/api/types.js';

function template(annotations: Record<string, string> = {}): V1PodTemplateSpec {
  return {
    metadata: { annotations },
    spec: { containers: [{ name: 'agent', image: 'registry.example/agent:1', command: ['agent'] }] },
  };
}

export class JobBuilder {
  private readonly job: MapReduceJob;

  constructor(name: string, namespace?: string) {
    this.job = {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name, ...(namespace ? { namespace } : {}) },
      spec: { input: { items: [] }, map: { template: template({ 'sim.mapreduce.dev/duration': '300ms' }) } },
    };
  }

  items(items: JsonValue[]): this {
    this.job.spec.input = { items };
    return this;
  }

  configMapInput(name: string, key: string, jsonPath?: string): this {
    this.job.spec.input = { configMapRef: { name, key }, ...(jsonPath ? { jsonPath } : {}) };
    return this;
  }

  /** A re-run of an earlier job's failed items (spec.input.fromJob). */
  fromJob(
    name: string,
    options: Omit<NonNullable<MapReduceJob['spec']['input']['fromJob']>, 'name'> = {},
  ): this {
    this.job.spec.input = { fromJob: { name, ...options } };
    return this;
  }

  idPath(path: string): this {
    this.job.spec.input.idPath = path;
    return this;
  }

  parallelism(n: number): this {
    this.job.spec.map.parallelism = n;
    return this;
  }

  backoffLimitPerItem(n: number): this {
    this.job.spec.map.backoffLimitPerItem = n;
    return this;
  }

  mapAnnotation(key: string, value: string): this {
    const meta = (this.job.spec.map.template.metadata ??= {});
    meta.annotations = { ...(meta.annotations ?? {}), [key]: value };
    return this;
  }

  /** A reduce phase whose simulated pod ends with this termination message. */
  reduce(result = 'reduced', annotations: Record<string, string> = {}): this {
    this.job.spec.reduce = {
      template: template({
        'sim.mapreduce.dev/duration': '300ms',
        'sim.mapreduce.dev/message': result,
        ...annotations,
      }),
    };
    return this;
  }

  maxFailedItems(n: number): this {
    this.job.spec.failurePolicy = { maxFailedItems: n };
    return this;
  }

  maxFailedItemsPercent(n: number): this {
    this.job.spec.failurePolicy = { maxFailedItemsPercent: n };
    return this;
  }

  suspend(value = true): this {
    this.job.spec.suspend = value;
    return this;
  }

  ttlSecondsAfterFinished(n: number): this {
    this.job.spec.ttlSecondsAfterFinished = n;
    return this;
  }

  activeDeadlineSeconds(n: number): this {
    this.job.spec.activeDeadlineSeconds = n;
    return this;
  }

  telemetry(telemetry: NonNullable<MapReduceJob['spec']['telemetry']>): this {
    this.job.spec.telemetry = telemetry;
    return this;
  }

  annotate(key: string, value: string): this {
    this.job.metadata.annotations = { ...(this.job.metadata.annotations ?? {}), [key]: value };
    return this;
  }

  obj(): MapReduceJob {
    return structuredClone(this.job);
  }
}

export function makeJob(name: string, namespace?: string): JobBuilder {
  return new JobBuilder(name, namespace);
}
