import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { expect } from 'chai';
import { CoreV1Api, HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { API_REQUEST_TIMEOUT_MS, PooledKubeConfig } from '../../src/kubeconfig.js';
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

  describe('a request that gets no answer', function () {
    let server: Server;
    let port = 0;
    const sockets: Socket[] = [];
    before(async function () {
      // Accepts connections and never answers: a connection that hung.
      server = createServer((socket) => void sockets.push(socket));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });
    after(function () {
      for (const s of sockets) s.destroy();
      server.close();
    });

    it(`fails after the request timeout (API_REQUEST_TIMEOUT_MS is ${API_REQUEST_TIMEOUT_MS} ms) instead of waiting forever`, async function () {
      const kc = new PooledKubeConfig(undefined, 300);
      kc.loadFromOptions({
        clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
        users: [{ name: 'u', token: 'secret' }],
        contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
        currentContext: 'ctx',
      });
      const core = kc.makeApiClient(CoreV1Api);
      const err = await core.readNamespacedPod({ namespace: 'ns', name: 'p' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(Error);
      expect((err as Error).name).to.equal('TimeoutError');
      expect(sockets).to.have.length(1); // the request did reach the server
    });
  });
});
