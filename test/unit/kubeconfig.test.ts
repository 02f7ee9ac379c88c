import { expect } from 'chai';
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { PooledKubeConfig } from '../../src/kubeconfig.js';
import { TokenBucket } from '../../src/ratelimit.js';

function load<T extends KubeConfig>(kc: T, user: string): T {
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: 'https://127.0.0.1:6443',
        caData: Buffer.from('not a real CA').toString('base64'),
      },
    ],
    users: [{ name: user, token: 'secret' }],
    contexts: [{ name: 'ctx', cluster: 'c', user }],
    currentContext: 'ctx',
  });
  return kc;
}

async function dispatcherOf(kc: KubeConfig): Promise<unknown> {
  const context = new RequestContext('https://127.0.0.1:6443/api/v1/pods', HttpMethod.GET);
  await kc.applySecurityAuthentication(context);
  return context.getDispatcher();
}

describe('PooledKubeConfig', function () {
  it('gives every request the same connection pool, where client-node makes a new one each time', async function () {
    const plain = load(new KubeConfig(), 'u');
    const [p1, p2] = [await dispatcherOf(plain), await dispatcherOf(plain)];
    expect(p1).to.not.equal(undefined);
    expect(p1, 'client-node 2.0.1 behaviour this works around').to.not.equal(p2);

    const pooled = load(new PooledKubeConfig(), 'u');
    const [a, b, c] = [await dispatcherOf(pooled), await dispatcherOf(pooled), await dispatcherOf(pooled)];
    expect(a).to.not.equal(undefined);
    expect([b, c]).to.deep.equal([a, a]);
  });

  it('keeps the per-request Authorization header', async function () {
    const pooled = load(new PooledKubeConfig(), 'u');
    const context = new RequestContext('https://127.0.0.1:6443/api/v1/pods', HttpMethod.GET);
    await pooled.applySecurityAuthentication(context);
    expect(context.getHeaders().Authorization).to.equal('Bearer secret');
  });

  it('makes every request take a token from its rate limiter first', async function () {
    let now = 0;
    const slept: number[] = [];
    const limiter = new TokenBucket(5, 2, {
      nowMs: () => now,
      sleep: (ms) => {
        slept.push(ms);
        now += ms;
        return Promise.resolve();
      },
    });
    const pooled = load(new PooledKubeConfig(limiter), 'u');
    for (let i = 0; i < 5; i++) await dispatcherOf(pooled);
    // A burst of 2, then one request each 200 ms (5 per second).
    expect(slept.map(Math.round)).to.deep.equal([200, 200, 200]);
  });
});
