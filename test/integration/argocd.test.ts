// The Argo CD health check, run by a real Lua 5.1 (Argo CD runs it on gopher-lua, a Lua 5.1) against statuses.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { load } from 'js-yaml';
import type { MapReduceJobStatus } from '../../src/api/types.js';
import { ARGOCD_HEALTH_LUA, argoHealth } from '../support/health.js';
import { REPO_ROOT } from '../support/cluster.js';

const failed = {
  type: 'Failed' as const,
  status: 'True' as const,
  reason: 'FailedItemsExceeded',
  message: '3 of 10 items failed, more than the failure policy allows',
  lastTransitionTime: '2026-01-01T00:00:00Z',
};

function statusOnly(status: MapReduceJobStatus | undefined): object {
  return { apiVersion: 'mapreduce.dev/v1alpha1', kind: 'MapReduceJob', ...(status ? { status } : {}) };
}

describe('Argo CD health check', function () {
  const cases: { name: string; status?: MapReduceJobStatus; expect: { status: string; message: string } }[] =
    [
      {
        name: 'no status yet',
        expect: { status: 'Progressing', message: 'Waiting for the operator to start the job' },
      },
      {
        name: 'running',
        status: { phase: 'Running', totalItems: 10, succeededItems: 4, failedItems: 1 },
        expect: { status: 'Progressing', message: 'Running: 4/10 items succeeded, 1 failed' },
      },
      {
        name: 'reducing',
        status: { phase: 'Reducing', totalItems: 10, succeededItems: 10 },
        expect: { status: 'Progressing', message: 'Reducing: 10/10 items succeeded, 0 failed' },
      },
      {
        name: 'succeeded',
        status: { phase: 'Succeeded', totalItems: 10, succeededItems: 9, failedItems: 1 },
        expect: { status: 'Healthy', message: '9/10 items succeeded, 1 failed' },
      },
      {
        name: 'failed, with its condition',
        status: { phase: 'Failed', totalItems: 10, succeededItems: 7, failedItems: 3, conditions: [failed] },
        expect: { status: 'Degraded', message: `FailedItemsExceeded: ${failed.message}` },
      },
      {
        name: 'failed, without a condition',
        status: { phase: 'Failed', totalItems: 2, failedItems: 2 },
        expect: { status: 'Degraded', message: 'Failed: 0/2 items succeeded, 2 failed' },
      },
      {
        name: 'suspended',
        status: { phase: 'Suspended', totalItems: 5, succeededItems: 2 },
        expect: { status: 'Suspended', message: 'Suspended: 2/5 items succeeded, 0 failed' },
      },
    ];
  for (const tc of cases) {
    it(`reports ${tc.name}`, function () {
      expect(argoHealth(statusOnly(tc.status))).to.deep.equal(tc.expect);
    });
  }

  it('is the same script in the argocd-cm patch', function () {
    const cm = load(
      readFileSync(path.join(REPO_ROOT, 'manifests', 'argocd', 'argocd-cm-patch.yaml'), 'utf8'),
    ) as {
      data: Record<string, string>;
    };
    expect(cm.data['resource.customizations.health.mapreduce.dev_MapReduceJob']).to.equal(
      readFileSync(ARGOCD_HEALTH_LUA, 'utf8'),
    );
  });
});
