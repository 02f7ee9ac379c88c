// listedResults: what `kubectl mapreduce results` prints — only the pieces the status lists. ResultStore.record:
// which pieces a reconcile leaves, given what an earlier reconcile (or a paused replica) left under their names.
import { expect } from 'chai';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { ANNOTATION_RESULTS_FENCE, ANNOTATION_WRITTEN_AT_VERSION } from '../../src/api/constants.js';
import type { MapReduceJob } from '../../src/api/types.js';
import type { Piece } from '../../src/controller/resultpieces.js';
import { listedResults, ResultStore } from '../../src/controller/resultstore.js';
import { makeJob } from '../support/jobbuilder.js';
import { RecordingClient } from '../support/recording.js';
import { leftPiece } from '../support/resultpieces.js';

function piece(name: string, data: Record<string, string>): V1ConfigMap {
  return { metadata: { name }, data };
}

describe('listedResults', function () {
  const cases: {
    name: string;
    resultPieces: string | undefined;
    configMaps: V1ConfigMap[];
    expected: [number, string][];
  }[] = [
    {
      name: 'every listed piece, results in index order',
      resultPieces: '0,3',
      configMaps: [
        piece('wc-results-3', { '3': 'd', '4': 'e' }),
        piece('wc-results-0', { '0': 'a', '2': 'c' }),
      ],
      expected: [
        [0, 'a'],
        [2, 'c'],
        [3, 'd'],
        [4, 'e'],
      ],
    },
    {
      name: 'a piece the status does not list (a lost status write) is not read: its results are stored again',
      resultPieces: '0,3',
      configMaps: [
        piece('wc-results-0', { '0': 'a', '1': 'b' }),
        piece('wc-results-1', { '1': 'b' }),
        piece('wc-results-3', { '3': 'd' }),
      ],
      expected: [
        [0, 'a'],
        [1, 'b'],
        [3, 'd'],
      ],
    },
    {
      name: 'no pieces listed yet: nothing, whatever is stored',
      resultPieces: undefined,
      configMaps: [piece('wc-results-0', { '0': 'a' })],
      expected: [],
    },
    {
      name: "another job's piece of a listed name's prefix is not read",
      resultPieces: '0',
      configMaps: [piece('wc-results-0', { '0': 'a' }), piece('wc2-results-0', { '0': 'z' })],
      expected: [[0, 'a']],
    },
  ];
  for (const tc of cases) {
    it(tc.name, function () {
      expect(listedResults('wc', tc.resultPieces, tc.configMaps)).to.deep.equal(tc.expected);
    });
  }
});

/** The job a reconcile works on: read from its cache at resourceVersion 7. */
function job(): MapReduceJob {
  const j = makeJob('wc').obj();
  j.metadata = { ...j.metadata, namespace: 'ns', uid: 'uid-1', resourceVersion: '7' };
  return j;
}

/** The job as a read past the cache shows it: at `version`, listing `resultPieces`. */
function fresh(version: string, resultPieces?: string, uid = 'uid-1'): MapReduceJob {
  const j = job();
  j.metadata = { ...j.metadata, uid, resourceVersion: version };
  j.status = resultPieces === undefined ? {} : { resultPieces };
  return j;
}

/** A piece stored under the job's name by an earlier writer that read the job at `writtenAt`. */
function left(
  first: number,
  data: Record<string, string>,
  writtenAt?: string,
  ownerUid = 'uid-1',
): V1ConfigMap {
  const piece = leftPiece(job(), first, data, writtenAt);
  piece.metadata!.ownerReferences![0]!.uid = ownerUid;
  return piece;
}

/** A 409 as the recording client answers it (client-node's ApiException message). */
const CONFLICT = 'HTTP-Code: 409\nMessage: HTTP 409\nBody: "status 409"\nHeaders: {}';

/** Piece 10 of items 10 and 11 meets a piece of that name holding other results: the job is read fresh. */
const LOOKED_PAST_THE_CACHE = [
  'createNamespacedConfigMap ns/wc-results-10 [10,11]',
  'readNamespacedConfigMap ns/wc-results-10',
  'getNamespacedCustomObject ns/wc',
];

const R = (first: number, ...indexes: number[]): Piece => ({
  first,
  data: Object.fromEntries([first, ...indexes].map((i) => [String(i), `"r${i}"`])),
});

describe('ResultStore.record', function () {
  const cases: {
    name: string;
    left?: V1ConfigMap[];
    fresh?: MapReduceJob;
    /** A call that fails with this HTTP code. */
    fail?: { method: 'deleteNamespacedConfigMap' | 'patchNamespacedConfigMap'; code: number };
    pieces: Piece[];
    expect: {
      calls: string[];
      /** The first indexes of the pieces the status is to list. */
      firsts?: number[];
      throws?: string;
      /** Every stored piece afterwards: its data and the version it records. */
      stored: Record<string, { data: Record<string, string>; writtenAt?: string }>;
    };
  }[] = [
    {
      name: 'nothing under their names: each piece created, recording the job’s version',
      pieces: [R(0, 1), R(2)],
      expect: {
        calls: [
          'createNamespacedConfigMap ns/wc-results-0 [0,1]',
          'createNamespacedConfigMap ns/wc-results-2 [2]',
        ],
        firsts: [0, 2],
        stored: {
          'wc-results-0': { data: R(0, 1).data, writtenAt: '7' },
          'wc-results-2': { data: R(2).data, writtenAt: '7' },
        },
      },
    },
    {
      name: 'a piece the fresh status lists, holding results a stale reconcile stores again: kept, nothing written, retried (it was replaced by all three, and 12 stored twice)',
      left: [left(10, R(10, 11).data, '6')],
      fresh: fresh('8', '10'),
      pieces: [R(10, 11, 12)],
      expect: {
        calls: [
          'createNamespacedConfigMap ns/wc-results-10 [10,11,12]',
          'readNamespacedConfigMap ns/wc-results-10',
          'getNamespacedCustomObject ns/wc',
        ],
        throws:
          'results piece ConfigMap ns/wc-results-10: this replica read the job at resourceVersion 7, the job is at 8; retrying',
        stored: { 'wc-results-10': { data: R(10, 11).data, writtenAt: '6' } },
      },
    },
    {
      name: 'a piece a lost status write left, holding only results stored now, the job as this reconcile read it: listed as it is, its annotation ours, the rest beside it',
      left: [left(10, R(10, 11).data, '6')],
      fresh: fresh('7', '0'),
      pieces: [R(10, 11, 12)],
      expect: {
        calls: [
          'createNamespacedConfigMap ns/wc-results-10 [10,11,12]',
          'readNamespacedConfigMap ns/wc-results-10',
          'getNamespacedCustomObject ns/wc',
          `patchNamespacedConfigMap ns/wc-results-10 {"metadata":{"resourceVersion":"50","annotations":{"${ANNOTATION_WRITTEN_AT_VERSION}":"7"}}}`,
          'createNamespacedConfigMap ns/wc-results-12 [12]',
        ],
        firsts: [10, 12],
        stored: {
          'wc-results-10': { data: R(10, 11).data, writtenAt: '7' },
          'wc-results-12': { data: R(12).data, writtenAt: '7' },
        },
      },
    },
    {
      name: 'the same, but another replica changed the piece since it was read: the annotation patch conflicts, retried',
      left: [left(10, R(10, 11).data, '6')],
      fresh: fresh('7', '0'),
      fail: { method: 'patchNamespacedConfigMap', code: 409 },
      pieces: [R(10, 11, 12)],
      expect: {
        calls: [
          'createNamespacedConfigMap ns/wc-results-10 [10,11,12]',
          'readNamespacedConfigMap ns/wc-results-10',
          'getNamespacedCustomObject ns/wc',
          `patchNamespacedConfigMap ns/wc-results-10 {"metadata":{"resourceVersion":"50","annotations":{"${ANNOTATION_WRITTEN_AT_VERSION}":"7"}}}`,
        ],
        throws: CONFLICT,
        stored: { 'wc-results-10': { data: R(10, 11).data, writtenAt: '6' } },
      },
    },
    {
      name: 'a paused replica’s piece at this version, holding results of later pieces too: listed as it is, the rest split again',
      left: [left(10, R(10, 13).data, '7')],
      pieces: [R(10, 11), R(12, 13, 14)],
      expect: {
        calls: [
          'createNamespacedConfigMap ns/wc-results-10 [10,11]',
          'readNamespacedConfigMap ns/wc-results-10',
          'createNamespacedConfigMap ns/wc-results-11 [11,12,14]',
        ],
        firsts: [10, 11],
        stored: {
          'wc-results-10': { data: R(10, 13).data, writtenAt: '7' },
          'wc-results-11': { data: R(11, 12, 14).data, writtenAt: '7' },
        },
      },
    },
    {
      name: 'a piece holding a result not stored now, listed by the fresh status (this cache is behind): kept, retried',
      left: [left(10, R(10, 9).data, '6')],
      fresh: fresh('8', '10'),
      pieces: [R(10, 11)],
      expect: {
        calls: [...LOOKED_PAST_THE_CACHE],
        throws:
          "results piece ConfigMap ns/wc-results-10: it holds other results and the job's status lists it (this replica's cache is behind); retrying",
        stored: { 'wc-results-10': { data: R(10, 9).data, writtenAt: '6' } },
      },
    },
    {
      name: 'a piece holding a result not stored now, unlisted, written at the job’s current version: kept, the job moved past that version (its writer’s status write can only conflict), retried',
      left: [left(10, R(10, 15).data, '7')],
      fresh: fresh('7', '0'),
      pieces: [R(10, 11)],
      expect: {
        calls: [
          ...LOOKED_PAST_THE_CACHE,
          `patchNamespacedCustomObject ns/wc annotations={"${ANNOTATION_RESULTS_FENCE}":"wc-results-10@7"}`,
        ],
        throws: `results piece ConfigMap ns/wc-results-10: it holds other results, written at the job's resourceVersion 7; the job was moved past it (${ANNOTATION_RESULTS_FENCE}), so no status write can list it; retrying`,
        stored: { 'wc-results-10': { data: R(10, 15).data, writtenAt: '7' } },
      },
    },
    {
      name: 'a piece holding a result not stored now, unlisted, written at an earlier version: replaced',
      left: [left(10, R(10, 15).data, '5')],
      fresh: fresh('7', '0'),
      pieces: [R(10, 11)],
      expect: {
        calls: [
          ...LOOKED_PAST_THE_CACHE,
          'deleteNamespacedConfigMap ns/wc-results-10',
          'createNamespacedConfigMap ns/wc-results-10 [10,11]',
        ],
        firsts: [10],
        stored: { 'wc-results-10': { data: R(10, 11).data, writtenAt: '7' } },
      },
    },
    {
      name: 'the same, but another replica changed the piece since it was read (took it as it is): the delete conflicts, retried',
      left: [left(10, R(10, 15).data, '5')],
      fresh: fresh('7', '0'),
      fail: { method: 'deleteNamespacedConfigMap', code: 409 },
      pieces: [R(10, 11)],
      expect: {
        calls: [...LOOKED_PAST_THE_CACHE, 'deleteNamespacedConfigMap ns/wc-results-10'],
        throws: CONFLICT,
        stored: { 'wc-results-10': { data: R(10, 15).data, writtenAt: '5' } },
      },
    },
    {
      name: 'the job was deleted and made again (another uid): kept, retried',
      left: [left(10, R(10, 15).data, '5')],
      fresh: fresh('9', '', 'uid-2'),
      pieces: [R(10, 11)],
      expect: {
        calls: [...LOOKED_PAST_THE_CACHE],
        throws:
          'results piece ConfigMap ns/wc-results-10: the job was deleted and made again since this reconcile read it; retrying',
        stored: { 'wc-results-10': { data: R(10, 15).data, writtenAt: '5' } },
      },
    },
    {
      name: 'another owner’s piece (an earlier job of this name), even holding the same results: never taken',
      left: [left(10, R(10, 11).data, '5', 'uid-of-the-old-job')],
      pieces: [R(10, 11)],
      expect: {
        calls: [
          'createNamespacedConfigMap ns/wc-results-10 [10,11]',
          'readNamespacedConfigMap ns/wc-results-10',
        ],
        throws:
          'ConfigMap ns/wc-results-10 belongs to another owner (an earlier job of this name?); waiting for it to go',
        stored: { 'wc-results-10': { data: R(10, 11).data, writtenAt: '5' } },
      },
    },
  ];
  for (const tc of cases) {
    it(tc.name, async function () {
      const client = new RecordingClient();
      client.configMaps = structuredClone(tc.left ?? []);
      client.storedJob = tc.fresh;
      if (tc.fail) client.fail(tc.fail.method, tc.fail.code);
      const store = new ResultStore(client, client);
      let firsts: number[] | undefined;
      let thrown: string | undefined;
      try {
        firsts = await store.record(job(), tc.pieces);
      } catch (err) {
        thrown = (err as Error).message;
      }
      expect(client.log).to.deep.equal(tc.expect.calls);
      expect(thrown).to.equal(tc.expect.throws);
      expect(firsts).to.deep.equal(tc.expect.firsts);
      expect(
        Object.fromEntries(
          client.configMaps.map((cm) => [
            cm.metadata!.name!,
            {
              data: cm.data!,
              ...(cm.metadata?.annotations
                ? { writtenAt: cm.metadata.annotations[ANNOTATION_WRITTEN_AT_VERSION] }
                : {}),
            },
          ]),
        ),
      ).to.deep.equal(tc.expect.stored);
    });
  }
});
