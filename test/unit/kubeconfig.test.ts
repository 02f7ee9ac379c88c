import { expect } from 'chai';
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { PooledKubeConfig } from '../../src/kubeconfig.js';

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
});
