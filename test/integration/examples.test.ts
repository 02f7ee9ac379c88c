// Every file in examples/ applies cleanly and its jobs end as the example says; the word count runs for real
// on the cluster's real node, or as examples/simulated/wordcount.yaml on kwok's nodes where there is none.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { cluster, kubectl, REPO_ROOT, useTestNamespace } from '../support/cluster.js';
import { getJob, waitForPhase } from '../support/jobs.js';
import { startOperator } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';
import { REAL_NODE_LABEL } from '../support/realnode.js';

const EXAMPLES_DIR = path.join(REPO_ROOT, 'examples');

/** The word count's top ten, as its reduce computes it on the real node and as the simulated one scripts it. */
const WORDCOUNT_RESULT = 'the:7 fox:4 dog:4 quick:3 a:3 brown:2 lazy:2 jumps:1 over:1 barks:1';
/** Real containers on a loaded 2-core machine: seven pods, three at a time. */
const REAL_EXAMPLE_TIMEOUT_MS = 180_000;

/** What each example's job must end with on the local control plane. */
const EXPECTED: Record<
  string,
  { phase: string; succeededItems: number; failedItems: number; retries: number; result?: string }
> = {
  // examples/wordcount.yaml on the real node; examples/simulated/wordcount.yaml (two scripted retries) without.
  wordcount: { phase: 'Succeeded', succeededItems: 6, failedItems: 0, retries: 0, result: WORDCOUNT_RESULT },
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
    this.timeout(REAL_EXAMPLE_TIMEOUT_MS + 60_000);
    const real =
      (await cluster().core.listNode({ labelSelector: `${REAL_NODE_LABEL}=true` })).items.length > 0;
    const expected = real ? EXPECTED : { ...EXPECTED, wordcount: { ...EXPECTED.wordcount!, retries: 2 } };
    operator = await startOperator(ns.name);
    for (const file of readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.yaml'))) {
      const simulated = path.join(EXAMPLES_DIR, 'simulated', file);
      kubectl(
        'apply',
        '-n',
        ns.name,
        '-f',
        !real && existsSync(simulated) ? simulated : path.join(EXAMPLES_DIR, file),
      );
    }
    for (const [name, want] of Object.entries(expected)) {
      await waitForPhase(ns.name, name, ['Succeeded', 'Failed'], REAL_EXAMPLE_TIMEOUT_MS);
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
