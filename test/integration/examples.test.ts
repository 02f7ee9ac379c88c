// Every file in examples/ applies cleanly and its jobs end as the example says.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { kubectl, REPO_ROOT, useTestNamespace } from '../support/cluster.js';
import { getJob, waitForPhase } from '../support/jobs.js';
import { startOperator } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';

const EXAMPLES_DIR = path.join(REPO_ROOT, 'examples');

/** What each example's job must end with on the local control plane. */
const EXPECTED: Record<
  string,
  { phase: string; succeededItems: number; failedItems: number; retries: number; result?: string }
> = {
  wordcount: {
    phase: 'Succeeded',
    succeededItems: 6,
    failedItems: 0,
    retries: 2,
    result: 'the:7 fox:4 dog:4 quick:3 a:3 brown:2 lazy:2 jumps:1 over:1 barks:1',
  },
  'large-files': { phase: 'Succeeded', succeededItems: 3, failedItems: 0, retries: 0 },
  retries: { phase: 'Succeeded', succeededItems: 3, failedItems: 1, retries: 3 },
};

describe('examples', function () {
  const ns = useTestNamespace('ex');
  let operator: OperatorProcess | undefined;

  afterEach(async function () {
    await operator?.kill();
  });

  it('has an expectation for every example job', function () {
    const files = readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.yaml'));
    expect(files.sort()).to.deep.equal(['configmap-jsonpath.yaml', 'retries.yaml', 'wordcount.yaml']);
    // Re-runs are applied once the job they re-run has finished (below).
    expect(readdirSync(path.join(EXAMPLES_DIR, 'rerun'))).to.deep.equal(['retries-rerun.yaml']);
  });

  it('applies every example and runs its jobs to the expected end', async function () {
    operator = await startOperator(ns.name);
    for (const file of readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.yaml'))) {
      kubectl('apply', '-n', ns.name, '-f', path.join(EXAMPLES_DIR, file));
    }
    for (const [name, want] of Object.entries(EXPECTED)) {
      await waitForPhase(ns.name, name, ['Succeeded', 'Failed']);
      const job = await getJob(ns.name, name);
      expect({ name, ...job.status }).to.deep.include({ name, ...want });
    }
    const ids = (await getJob(ns.name, 'large-files')).status;
    expect(ids?.completedIndexes).to.equal('0-2');
    const retries = await getJob(ns.name, 'retries');
    expect(retries.status?.failedItemDetails).to.deep.equal([
      {
        index: 2,
        id: 'broken',
        attempts: 3,
        reason: 'exit code 3',
        exitCode: 3,
        message: 'cannot parse record 17',
      },
    ]);

    // The re-run of `retries`' failed item, fixed, with a reduce over all four results.
    kubectl('apply', '-n', ns.name, '-f', path.join(EXAMPLES_DIR, 'rerun', 'retries-rerun.yaml'));
    const rerun = await waitForPhase(ns.name, 'retries-rerun', ['Succeeded', 'Failed']);
    expect(rerun.status).to.deep.include({
      phase: 'Succeeded',
      totalItems: 1,
      succeededItems: 1,
      failedItems: 0,
      completedIndexes: '2',
      result: '4 of 4 items done',
    });
    expect(rerun.status?.fromJob?.results).to.deep.equal([
      { job: 'retries', resultPieces: retries.status?.resultPieces, indexes: '0-1,3', count: 3 },
    ]);
  });
});
