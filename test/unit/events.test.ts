import { expect } from 'chai';
import { pino } from 'pino';
import type { MapReduceJob } from '../../src/api/types.js';
import { EVENT_AGGREGATION_WINDOW_MS, KubernetesEventRecorder } from '../../src/controller/events.js';
import type { JobEvent } from '../../src/controller/jobstate.js';
import { makeJob } from '../support/jobbuilder.js';
import { at } from '../support/podstates.js';
import { RecordingClient } from '../support/recording.js';

const FAILED: JobEvent = {
  type: 'Warning',
  reason: 'PodCreateFailed',
  message: 'could not create pod: quota',
};

function setUp(): {
  client: RecordingClient;
  recorder: KubernetesEventRecorder;
  job: MapReduceJob;
  clock: { now: Date };
} {
  const client = new RecordingClient();
  const clock = { now: at(0) };
  const recorder = new KubernetesEventRecorder(client, pino({ level: 'silent' }), 'test', () => clock.now);
  const job = makeJob('wc').obj();
  job.metadata = { ...job.metadata, namespace: 'ns', uid: 'uid-1' };
  return { client, recorder, job, clock };
}

/** The call log with the Events' random name suffixes replaced by their order of creation. */
function calls(client: RecordingClient): string[] {
  const names: string[] = [];
  return client.log.map((c) =>
    c.replace(/wc\.[0-9a-f]{16}/, (n) => `wc.#${names.includes(n) ? names.indexOf(n) : names.push(n) - 1}`),
  );
}

describe('KubernetesEventRecorder', function () {
  it('counts an Event repeated within the window on the first one instead of writing new objects', async function () {
    const { client, recorder, job, clock } = setUp();
    await recorder.record(job, FAILED);
    clock.now = at(30);
    await recorder.record(job, FAILED);
    await recorder.record(job, FAILED);
    await recorder.record(job, { ...FAILED, message: 'could not create pod: another reason' });
    clock.now = new Date(at(0).getTime() + EVENT_AGGREGATION_WINDOW_MS);
    await recorder.record(job, FAILED); // the window has passed: a new Event
    expect(client.log.filter((c) => c.startsWith('createNamespacedEvent'))).to.have.length(3);
  });

  it('writes the exact calls: one create, then count patches on that Event', async function () {
    const { client, recorder, job, clock } = setUp();
    await recorder.record(job, FAILED);
    clock.now = at(30);
    await recorder.record(job, FAILED);
    await recorder.record(job, FAILED);
    client.fail('patchNamespacedEvent', 404); // the Event expired meanwhile: a new one is written
    await recorder.record(job, FAILED);
    expect(calls(client)).to.deep.equal([
      'createNamespacedEvent ns PodCreateFailed',
      'patchNamespacedEvent ns/wc.#0 count=2',
      'patchNamespacedEvent ns/wc.#0 count=3',
      'patchNamespacedEvent ns/wc.#0 count=4',
      'createNamespacedEvent ns PodCreateFailed',
    ]);
  });
});
