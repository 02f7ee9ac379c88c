// listedResults: what `kubectl mapreduce results` prints — only the pieces the status lists.
import { expect } from 'chai';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { listedResults } from '../../src/controller/resultstore.js';

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
