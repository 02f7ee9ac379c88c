import { expect } from 'chai';
import type { Condition, MapReduceJobStatus } from '../../src/api/types.js';
import { setReadiness } from '../../src/controller/readiness.js';
import { at } from '../support/podstates.js';

const failed: Condition = {
  type: 'Failed',
  status: 'True',
  reason: 'FailedItemsExceeded',
  message: '3 of 10 items failed, more than the failure policy allows',
  lastTransitionTime: at(0).toISOString(),
};

/** type=status/reason/message of each kstatus condition, in order. */
function readiness(status: MapReduceJobStatus): string[] {
  return (status.conditions ?? [])
    .filter((c) => ['Ready', 'Reconciling', 'Stalled'].includes(c.type))
    .map((c) => `${c.type}=${c.status}/${c.reason}/${c.message}`);
}

describe('setReadiness (kstatus conditions)', function () {
  const cases: { name: string; status: MapReduceJobStatus; expect: string[] }[] = [
    {
      name: 'running: Reconciling with the progress (kstatus InProgress)',
      status: { phase: 'Running', totalItems: 10, succeededItems: 4, failedItems: 1 },
      expect: [
        'Reconciling=True/Running/Running: 4/10 items succeeded, 1 failed',
        'Ready=False/Running/Running: 4/10 items succeeded, 1 failed',
      ],
    },
    {
      name: 'reducing: still Reconciling',
      status: { phase: 'Reducing', totalItems: 10, succeededItems: 10 },
      expect: [
        'Reconciling=True/Reducing/Reducing: 10/10 items succeeded, 0 failed',
        'Ready=False/Reducing/Reducing: 10/10 items succeeded, 0 failed',
      ],
    },
    {
      name: 'succeeded: Ready (kstatus Current)',
      status: { phase: 'Succeeded', totalItems: 10, succeededItems: 9, failedItems: 1 },
      expect: [
        'Ready=True/Completed/9/10 items succeeded, 1 failed',
        'Reconciling=False/Completed/9/10 items succeeded, 1 failed',
      ],
    },
    {
      name: 'failed: Stalled with the Failed condition’s reason and message (kstatus Failed)',
      status: { phase: 'Failed', totalItems: 10, succeededItems: 7, failedItems: 3, conditions: [failed] },
      expect: [
        `Stalled=True/FailedItemsExceeded/${failed.message}`,
        `Ready=False/FailedItemsExceeded/${failed.message}`,
        `Reconciling=False/FailedItemsExceeded/${failed.message}`,
      ],
    },
    {
      name: 'suspended: not Ready and not Reconciling (kstatus InProgress: a waiter waits for the resume)',
      status: { phase: 'Suspended', totalItems: 5, succeededItems: 2 },
      expect: [
        'Ready=False/Suspended/Suspended: 2/5 items succeeded, 0 failed',
        'Reconciling=False/Suspended/Suspended: 2/5 items succeeded, 0 failed',
      ],
    },
  ];
  for (const tc of cases) {
    it(tc.name, function () {
      const status = structuredClone(tc.status);
      setReadiness(status, at(1));
      expect(readiness(status)).to.deep.equal(tc.expect);
    });
  }

  it('moves lastTransitionTime only when a condition’s status changes', function () {
    const times = (s: MapReduceJobStatus): string[] =>
      s.conditions!.map((c) => `${c.type}=${c.status}@${c.lastTransitionTime}`);
    const status: MapReduceJobStatus = { phase: 'Running', totalItems: 2, succeededItems: 0 };
    setReadiness(status, at(1));
    status.succeededItems = 1;
    setReadiness(status, at(2)); // progress: the messages change, the times do not
    expect(times(status)).to.deep.equal([
      `Reconciling=True@${at(1).toISOString()}`,
      `Ready=False@${at(1).toISOString()}`,
    ]);
    status.phase = 'Succeeded';
    status.succeededItems = 2;
    setReadiness(status, at(3));
    expect(times(status)).to.deep.equal([
      `Reconciling=False@${at(3).toISOString()}`,
      `Ready=True@${at(3).toISOString()}`,
    ]);
  });
});
