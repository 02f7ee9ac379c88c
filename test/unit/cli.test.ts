import { expect } from 'chai';
import { CliError, formatFailed, formatStatus, rerunManifest, run } from '../../src/cli/main.js';
import type { RerunOptions } from '../../src/cli/main.js';
import type { MapReduceJob } from '../../src/api/types.js';
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

describe('rerunManifest (kubectl mapreduce rerun)', function () {
  function finished(): MapReduceJob {
    const job = makeJob('wc', 'team-a')
      .items(['a', 'b', 'c'])
      .parallelism(3)
      .reduce('sum')
      .suspend(false)
      .telemetry({
        attributes: { team: 'search' },
        parentTraceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      })
      .obj();
    job.metadata.uid = 'uid-wc';
    job.status = {
      phase: 'Succeeded',
      totalItems: 3,
      failedIndexes: '1',
      failedItems: 1,
      failedItemDetails: [{ index: 1, id: '1', attempts: 3, reason: 'Error', exitCode: 3 }],
    };
    return job;
  }

  const cases: {
    name: string;
    options: RerunOptions;
    expect: { name: string; input: MapReduceJob['spec']['input']; image: string };
  }[] = [
    {
      name: 'by default: <job>-rerun over every failed item, merged when the job has a reduce',
      options: {},
      expect: {
        name: 'wc-rerun',
        input: { fromJob: { name: 'wc', mergeResults: true } },
        image: 'registry.example/agent:1',
      },
    },
    {
      name: 'with --name, --reason, --exit-code, --image and --no-merge',
      options: { name: 'wc-fix', reasons: ['Error'], exitCodes: [3], image: 'agent:2', merge: false },
      expect: {
        name: 'wc-fix',
        input: { fromJob: { name: 'wc', reasons: ['Error'], exitCodes: [3] } },
        image: 'agent:2',
      },
    },
  ];
  for (const tc of cases) {
    it(tc.name, function () {
      const job = rerunManifest(finished(), tc.options);
      expect(job.metadata).to.deep.equal({ name: tc.expect.name, namespace: 'team-a' });
      expect(job.spec.input).to.deep.equal(tc.expect.input);
      expect(job.spec.map.template.spec?.containers[0]?.image).to.equal(tc.expect.image);
      expect(job.spec.map.parallelism).to.equal(3);
      expect(job.spec.reduce).to.deep.equal(finished().spec.reduce);
      expect(job.spec.telemetry).to.deep.equal({ attributes: { team: 'search' } });
      expect(job.spec).to.not.have.property('suspend');
      expect(job).to.not.have.property('status');
    });
  }

  it('refuses a job that is still running, as the operator would', function () {
    const running = finished();
    running.status = { phase: 'Running' };
    expect(() => rerunManifest(running)).to.throw(
      CliError,
      'rerun: spec.input.fromJob: MapReduceJob team-a/wc is Running; a re-run takes the failed items of a finished job',
    );
  });

  it('refuses a job without failed items', function () {
    const clean = finished();
    clean.status = { phase: 'Succeeded', totalItems: 3, failedIndexes: '' };
    expect(() => rerunManifest(clean)).to.throw(
      CliError,
      'rerun: spec.input.fromJob: MapReduceJob team-a/wc has no failed items',
    );
  });

  it('refuses -o without --dry-run=client, and other dry-run modes', async function () {
    for (const [args, message] of [
      [
        ['rerun', 'wc', '-o', 'yaml'],
        '-o prints the new job instead of creating it: use it with --dry-run=client',
      ],
      [['rerun', 'wc', '--dry-run=server'], '--dry-run: "server" is not supported; use --dry-run=client'],
      [
        ['rerun', 'wc', '--dry-run=client', '-o', 'wide'],
        '-o: "wide" is not supported; use -o yaml or -o json',
      ],
      [['rerun', 'wc', '--exit-code', 'x'], '--exit-code: "x" is not a whole number'],
    ] as const) {
      let thrown: unknown;
      try {
        await run([...args], {});
      } catch (err) {
        thrown = err;
      }
      expect(thrown, args.join(' ')).to.be.instanceOf(CliError);
      expect((thrown as Error).message).to.equal(message);
    }
  });
});
