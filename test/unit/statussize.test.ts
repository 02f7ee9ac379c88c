// The status of a 100,000-item job stays under 100 KiB (issue 3), in the shapes a large job takes.
import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import type { MapReduceJobStatus } from '../../src/api/types.js';
import {
  computeJobState,
  MAX_FAILED_ITEM_DETAILS,
  MAX_FAILED_ITEM_MESSAGE,
} from '../../src/controller/jobstate.js';
import { IndexSet } from '../../src/controller/indexranges.js';
import { makeJob } from '../support/jobbuilder.js';
import type { JobBuilder } from '../support/jobbuilder.js';
import { at, mapPod } from '../support/podstates.js';

const TOTAL = 100_000;
const STATUS_BUDGET_BYTES = 100 * 1024;

function ranges(indexes: Iterable<number>): string {
  const set = new IndexSet();
  for (const i of indexes) set.add(i);
  return set.toString();
}

function* range(from: number, to: number, step = 1): Generator<number> {
  for (let i = from; i < to; i += step) yield i;
}

interface Case {
  name: string;
  job: JobBuilder;
  status: MapReduceJobStatus;
  pods: V1Pod[];
  expect: { phase: string; activeItems: number; failedItemDetails: number };
}

const cases: Case[] = [
  {
    name: 'every item succeeded',
    job: makeJob('big').items([]),
    status: {
      phase: 'Running',
      startTime: at(0).toISOString(),
      completedIndexes: ranges(range(0, TOTAL - 1)),
    },
    pods: [
      mapPod(TOTAL - 1, 0, 'big')
        .succeeded('"done"')
        .obj(),
    ],
    expect: { phase: 'Succeeded', activeItems: 0, failedItemDetails: 0 },
  },
  {
    name: 'mid-run at the largest parallelism, 10,000 pods running',
    job: makeJob('big').items([]).parallelism(10_000),
    status: { phase: 'Running', startTime: at(0).toISOString(), completedIndexes: ranges(range(0, 40_000)) },
    pods: [...range(40_000, 50_000)].map((i) => mapPod(i, 0, 'big').running().obj()),
    expect: { phase: 'Running', activeItems: 10_000, failedItemDetails: 0 },
  },
  {
    name: '1,000 scattered failed items, a full dead-letter list of 4 KiB messages, 2,000 result pieces (MAX_TIMED_PIECES and then full ones) and 1,000 scattered truncated results',
    job: makeJob('big').items([]).backoffLimitPerItem(0).maxFailedItemsPercent(5),
    status: {
      phase: 'Running',
      startTime: at(0).toISOString(),
      completedIndexes: ranges([...range(0, 95_000)].filter((i) => i % 100 !== 50)),
      failedIndexes: ranges(range(50, 94_950, 100)),
      failedItems: 949,
      resultPieces: ranges(range(1, 100_000, 50)),
      truncatedResultIndexes: ranges(range(7, 95_000, 95)),
    },
    pods: [...range(95_000, 95_100, 2)].map((i) =>
      mapPod(i, 0, 'big').failed(1, 'Error', at(1), 'e'.repeat(4096)).obj(),
    ),
    expect: { phase: 'Running', activeItems: 0, failedItemDetails: MAX_FAILED_ITEM_DETAILS },
  },
];

describe('status size of a 100,000-item job', function () {
  for (const tc of cases) {
    it(`stays under 100 KiB: ${tc.name}`, function () {
      const job = tc.job.obj();
      job.metadata = { ...job.metadata, namespace: 'ns', uid: 'uid-1', generation: 1 };
      job.status = tc.status;
      const state = computeJobState({
        job,
        totalItems: TOTAL,
        itemId: (i) => `item-${String(i).padStart(6, '0')}`,
        pods: tc.pods,
        now: at(10),
        options: { keepFailedPods: 3, retryBackoffBaseMs: 1000, retryBackoffMaxMs: 8000 },
      });
      expect(state.status.phase).to.equal(tc.expect.phase);
      expect(state.status.activeItems).to.equal(tc.expect.activeItems);
      expect(state.status.failedItemDetails ?? []).to.have.length(tc.expect.failedItemDetails);
      for (const detail of state.status.failedItemDetails ?? [])
        expect(detail.message?.length ?? 0).to.be.at.most(MAX_FAILED_ITEM_MESSAGE);
      const bytes = Buffer.byteLength(JSON.stringify(state.status));
      // STATUS_SIZE_REPORT=1 prints the sizes docs/api.md quotes.
      if (process.env.STATUS_SIZE_REPORT) process.stdout.write(`${tc.name}: ${bytes} bytes\n`);
      expect(bytes, `status is ${bytes} bytes`).to.be.below(STATUS_BUDGET_BYTES);
    });
  }
});
