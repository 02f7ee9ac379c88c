import { expect } from 'chai';
import {
  nextRestartDelay,
  RESTART_BASE_DELAY_MS,
  RESTART_MAX_DELAY_MS,
  RESTART_RESET_AFTER_MS,
} from '../../src/controller/informer.js';

describe('informer restart backoff', function () {
  it('doubles while errors keep coming, up to the maximum', function () {
    const delays: number[] = [];
    let d = 0;
    for (let i = 0; i < 7; i++) delays.push((d = nextRestartDelay(d, d)));
    expect(delays).to.deep.equal([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect([delays[0], delays[6]]).to.deep.equal([RESTART_BASE_DELAY_MS, RESTART_MAX_DELAY_MS]);
  });

  it('starts over once the informer ran long enough without an error', function () {
    expect(nextRestartDelay(16000, RESTART_RESET_AFTER_MS + 1)).to.equal(RESTART_BASE_DELAY_MS);
    expect(nextRestartDelay(16000, RESTART_RESET_AFTER_MS)).to.equal(30000);
  });
});
