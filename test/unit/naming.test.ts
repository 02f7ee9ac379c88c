import { expect } from 'chai';
import {
  agentPodName,
  itemsConfigMapName,
  reducePodName,
  resultsConfigMapName,
} from '../../src/controller/naming.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

describe('naming', function () {
  const cases: [string, string, string][] = [
    ['agent pod', agentPodName('wc', 7, 0), 'wc-7-0'],
    ['agent pod, large index', agentPodName('wc', 99_999, 10), 'wc-99999-10'],
    ['reduce pod', reducePodName('wc', 1), 'wc-reduce-1'],
    ['results shard', resultsConfigMapName('wc', 3), 'wc-results-3'],
    ['items shard', itemsConfigMapName('wc', 0), 'wc-items-0'],
  ];
  for (const [name, got, want] of cases) {
    it(`names the ${name}`, function () {
      expect(got).to.equal(want);
    });
  }

  it('cuts and hashes a long job name but never the suffix', function () {
    const long = 'a'.repeat(253);
    const name = agentPodName(long, 99_999, 10);
    expect(name).to.have.length.at.most(63);
    expect(name).to.match(DNS1123_LABEL);
    expect(name.endsWith('-99999-10')).to.equal(true);
  });

  it('keeps two long names that share a 60-character prefix apart', function () {
    const prefix = 'x'.repeat(60);
    expect(agentPodName(`${prefix}-one`, 1, 0)).to.not.equal(agentPodName(`${prefix}-two`, 1, 0));
  });

  it('is deterministic', function () {
    const long = 'job-'.repeat(30);
    expect(reducePodName(long, 0)).to.equal(reducePodName(long, 0));
  });

  it('gives valid names (DNS-1123 subdomains, at most 63 characters) when dots and dashes fall at the cut', function () {
    for (const job of ['a.b.c-'.repeat(20) + 'z', 'my-job-' + '-'.repeat(70) + 'end']) {
      for (const n of [agentPodName(job, 1, 2), resultsConfigMapName(job, 12), itemsConfigMapName(job, 3)]) {
        expect(n, n).to.match(DNS1123_SUBDOMAIN);
        expect(n.length).to.be.at.most(63);
      }
    }
  });
});
