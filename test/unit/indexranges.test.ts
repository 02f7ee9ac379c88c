import { expect } from 'chai';
import { formatIndexRanges, IndexSet, parseIndexRanges } from '../../src/controller/indexranges.js';

describe('index ranges', function () {
  const formats: [string, number[], string][] = [
    ['empty', [], ''],
    ['one index', [5], '5'],
    ['adjacent indexes merge', [1, 2, 3], '1-3'],
    ['out of order and duplicates', [4, 1, 2, 9, 2, 3], '1-4,9'],
    ['a gap keeps ranges apart', [0, 1, 3, 4], '0-1,3-4'],
    ['joining two ranges', [0, 2, 1], '0-2'],
  ];
  for (const [name, indexes, expected] of formats) {
    it(`formats ${name}`, function () {
      expect(formatIndexRanges(indexes)).to.equal(expected);
    });
  }

  it('keeps 100,000 indexes as one range', function () {
    const set = IndexSet.of(Array.from({ length: 100_000 }, (_, i) => 99_999 - i));
    expect(set.toString()).to.equal('0-99999');
    expect(set.size).to.equal(100_000);
    expect(set.has(50_000)).to.equal(true);
    expect(set.has(100_000)).to.equal(false);
  });

  it('round-trips through parse', function () {
    const s = '0-99,120,200-4999';
    const set = parseIndexRanges(s);
    expect(set.toString()).to.equal(s);
    expect(set.size).to.equal(100 + 1 + 4800);
    expect([set.has(99), set.has(100), set.has(120), set.has(199), set.has(200)]).to.deep.equal([
      true,
      false,
      true,
      false,
      true,
    ]);
  });

  it('unions', function () {
    expect(parseIndexRanges('0-2,10').union(parseIndexRanges('3-5,9,20')).toString()).to.equal('0-5,9-10,20');
  });

  it('iterates in order', function () {
    expect([...parseIndexRanges('1-3,7')]).to.deep.equal([1, 2, 3, 7]);
  });

  const malformed: [string, string][] = [
    ['1-', 'malformed index range "1-" in "1-"'],
    ['a', 'malformed index range "a" in "a"'],
    ['3-1', 'index range "3-1" ends before it starts in "3-1"'],
    ['1,,2', 'malformed index range "" in "1,,2"'],
    ['-1', 'malformed index range "-1" in "-1"'],
    ['5,2', 'index range "2" is out of order in "5,2"'],
  ];
  for (const [s, message] of malformed) {
    it(`refuses "${s}" naming the bad fragment`, function () {
      expect(() => parseIndexRanges(s)).to.throw(Error, message);
    });
  }

  it('refuses a negative index', function () {
    expect(() => new IndexSet().add(-1)).to.throw(RangeError, 'index -1 is not a non-negative integer');
  });
});
