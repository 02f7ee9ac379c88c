import { expect } from 'chai';
import { CliError, formatFailed, formatStatus, run } from '../../src/cli/main.js';
import { renderWaterfall, treeOrder } from '../../src/cli/waterfall.js';
import type { WaterfallSpan } from '../../src/cli/waterfall.js';
import { spanId } from '../../src/telemetry/ids.js';
import { makeJob } from '../support/jobbuilder.js';

const S = 1_000_000; // µs

function span(
  id: string,
  parentId: string | undefined,
  name: string,
  start: number,
  dur: number,
  error = false,
): WaterfallSpan {
  return {
    spanId: id,
    ...(parentId ? { parentId } : {}),
    name,
    startUs: start * S,
    durationUs: dur * S,
    error,
  };
}

describe('waterfall', function () {
  const spans = [
    span('a1', 'm', 'agent', 0, 2, true),
    span('j', undefined, 'job', 0, 10),
    span('m', 'j', 'map', 0, 6),
    span('a2', 'm', 'agent', 3, 3),
    span('r', 'j', 'reduce', 6, 4),
  ];

  it('orders spans as a tree, children by start', function () {
    expect(treeOrder(spans).map(({ span: s, depth }) => `${depth}:${s.spanId}`)).to.deep.equal([
      '0:j',
      '1:m',
      '2:a1',
      '2:a2',
      '1:r',
    ]);
  });

  it('draws bars on one time axis and marks failures', function () {
    const out = renderWaterfall(spans, { width: 10 }).split('\n');
    expect(out.slice(1, 6).map((l) => l.slice(57, 68))).to.deep.equal([
      '██████████ ',
      '██████     ',
      'xx         ',
      '   ███     ',
      '      ████ ',
    ]);
    expect(out[3]!.startsWith('✗')).to.equal(true);
    expect(out[6]).to.equal('5 spans, 1 failed (✗, bar drawn with x)');
  });

  it('summarises what does not fit', function () {
    const many = Array.from({ length: 100 }, (_, i) => span(`s${i}`, undefined, 'agent', i, 1));
    const out = renderWaterfall(many, { width: 10, maxLines: 5 }).split('\n');
    expect(out).to.have.length(1 + 5 + 2 + 1);
    expect(out[6]).to.equal('  … 95 more spans');
  });
});

describe('kubectl-mapreduce', function () {
  const job = makeJob('wc').items(['a', 'b', 'c']).obj();
  job.metadata = { name: 'wc', namespace: 'ns', uid: 'u1' };
  job.status = {
    phase: 'Failed',
    totalItems: 3,
    succeededItems: 1,
    failedItems: 2,
    retries: 2,
    traceID: 'ab'.repeat(16),
    failedItemDetails: [
      { index: 1, id: 'b', attempts: 2, reason: 'exit code 3', exitCode: 3, message: 'bad record' },
    ],
    failedIndexes: '1-2',
    conditions: [
      {
        type: 'Failed',
        status: 'True',
        reason: 'FailedItemsExceeded',
        message: '2 of 3 items failed',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ],
  };

  it('prints the dead-letter list with the span id of each item’s last attempt', function () {
    const last = spanId('ab'.repeat(16), 'u1', { kind: 'agent', phase: 'map', index: 1, attempt: 1 });
    const lines = formatFailed(job).split('\n');
    expect(lines[0]!.split(/\s{2,}/)).to.deep.equal([
      'INDEX',
      'ID',
      'ATTEMPTS',
      'REASON',
      'EXIT',
      'TRACE/SPAN OF LAST ATTEMPT',
      'MESSAGE',
    ]);
    expect(lines[1]!.split(/\s{2,}/)).to.deep.equal([
      '1',
      'b',
      '2',
      'exit code 3',
      '3',
      `${'ab'.repeat(16)}/${last}`,
      'bad record',
    ]);
    expect(lines[2]).to.equal('(1 older failed items: indexes 1-2)');
  });

  it('prints the status with its conditions', function () {
    const out = formatStatus(job).split('\n');
    expect(out[1]!.split(/\s{2,}/).slice(0, 6)).to.deep.equal(['wc', 'Failed', '1/3', '2', '2', '0']);
    expect(out[2]).to.equal('condition Failed=True FailedItemsExceeded: 2 of 3 items failed');
  });

  it('refuses an unknown command or a missing job with usage', async function () {
    const error = (argv: string[]): Promise<unknown> =>
      run(argv, {}).then(
        () => undefined,
        (e: unknown) => e,
      );
    const unknown = await error(['show', 'wc']);
    expect(unknown).to.be.instanceOf(CliError);
    expect((unknown as Error).message).to.match(/^unknown command "show"\n\nusage: kubectl mapreduce/);
    expect(((await error(['trace'])) as Error).message).to.equal(
      'trace: which job? (kubectl mapreduce trace <job>)',
    );
  });
});
