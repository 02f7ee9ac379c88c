// StreamWatch against a local HTTP server that answers as the API server's watch does, in chunks the test
// chooses: what client-node's ListWatch relies on (events in order, done exactly once, errors with their
// statusCode, the inactivity timeout) and what a hand-made line splitter could get wrong (an event split
// across chunks, a character split across chunks, several events in one chunk, a line that does not parse).
// client-node 2.0.1's own Watch passes the same cases (checked by swapping it in, with its timeout set).
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { KubeConfig } from '@kubernetes/client-node';
import { StreamWatch } from '../../src/controller/streamwatch.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A plain-HTTP "API server" whose every request the test's handler answers. */
async function serve(handler: Handler): Promise<{ server: Server; kc: KubeConfig }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    // client-node refuses a plain-HTTP server unless told TLS is not verified
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'secret' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return { server, kc };
}

const event = (type: string, name: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ type, object: { metadata: { name, resourceVersion: '7' }, ...extra } }) + '\n';

interface Outcome {
  events: string[];
  /** The error done got, as "name: message (statusCode)"; 'null' for a clean end. */
  done: string[];
  url?: string;
  authorization?: string;
}

/** Runs one watch against the handler until done is called; what the callbacks got. */
async function watchOnce(handler: Handler, timeoutMs?: number): Promise<Outcome> {
  const outcome: Outcome = { events: [], done: [] };
  const { server, kc } = await serve((req, res) => {
    outcome.url = req.url;
    outcome.authorization = req.headers.authorization;
    handler(req, res);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      new StreamWatch(kc, timeoutMs)
        .watch(
          '/api/v1/namespaces/ns/pods',
          { resourceVersion: '5', labelSelector: 'a=b', unset: undefined },
          (type, obj: { metadata: { name: string }; note?: string }) =>
            outcome.events.push(`${type} ${obj.metadata.name}${obj.note ? ` ${obj.note}` : ''}`),
          (err: unknown) => {
            const e = err as (Error & { statusCode?: number }) | null;
            outcome.done.push(
              e ? `${e.name}: ${e.message}${e.statusCode ? ` (${e.statusCode})` : ''}` : 'null',
            );
            setTimeout(resolve, 50); // a second done would come in this time
          },
        )
        .catch(reject);
    });
  } finally {
    server.closeAllConnections();
    server.close();
  }
  return outcome;
}

describe('StreamWatch', function () {
  it('asks for the watch as client-node does: the path, watch=true, the query, the credentials', async function () {
    const o = await watchOnce((_req, res) => res.end());
    expect({ url: o.url, authorization: o.authorization, done: o.done }).to.deep.equal({
      url: '/api/v1/namespaces/ns/pods?watch=true&resourceVersion=5&labelSelector=a%3Db',
      authorization: 'Bearer secret',
      done: ['null'],
    });
  });

  const cases: { name: string; chunks: (string | Buffer)[]; events: string[] }[] = [
    {
      name: 'several events in one chunk',
      chunks: [event('ADDED', 'a') + event('MODIFIED', 'a') + event('DELETED', 'a')],
      events: ['ADDED a', 'MODIFIED a', 'DELETED a'],
    },
    {
      name: 'an event split across three chunks',
      chunks: (() => {
        const e = event('ADDED', 'split');
        return [e.slice(0, 10), e.slice(10, 30), e.slice(30) + event('ADDED', 'next')];
      })(),
      events: ['ADDED split', 'ADDED next'],
    },
    {
      name: 'a character split across chunks',
      chunks: (() => {
        const bytes = Buffer.from(event('ADDED', 'u', { note: 'résumé ✓' }));
        const at = bytes.indexOf(Buffer.from('✓')) + 1; // inside the 3-byte character
        return [bytes.subarray(0, at), bytes.subarray(at)];
      })(),
      events: ['ADDED u résumé ✓'],
    },
    {
      name: 'a line that does not parse, skipped',
      chunks: ['{"type":"ADDED","object":\n', event('ADDED', 'after')],
      events: ['ADDED after'],
    },
    {
      name: 'a last event without its newline',
      chunks: [event('ADDED', 'a') + event('ADDED', 'b').trimEnd()],
      events: ['ADDED a', 'ADDED b'],
    },
  ];
  for (const tc of cases) {
    it(`hands on each event once, in order: ${tc.name}; done(null) once when the server ends the watch`, async function () {
      const o = await watchOnce((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunks = [...tc.chunks];
        const next = (): void => {
          const c = chunks.shift();
          if (c === undefined) return void res.end();
          res.write(c);
          setTimeout(next, 5);
        };
        next();
      });
      expect({ events: o.events, done: o.done }).to.deep.equal({ events: tc.events, done: ['null'] });
    });
  }

  it('ends with an error carrying the statusCode when the answer is not 200', async function () {
    const o = await watchOnce((_req, res) => {
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end('{"kind":"Status","code":410}');
    });
    expect({ events: o.events, done: o.done }).to.deep.equal({ events: [], done: ['Error: Gone (410)'] });
  });

  it('ends with a TimeoutError once nothing came for the inactivity timeout', async function () {
    const o = await watchOnce((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(event('ADDED', 'a'));
      // then nothing, and the connection stays open
    }, 300);
    expect({ events: o.events, done: o.done }).to.deep.equal({
      events: ['ADDED a'],
      done: ['TimeoutError: The operation was aborted due to timeout'],
    });
  });

  it('ends with done(error) once when the connection breaks mid-watch', async function () {
    const o = await watchOnce((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(event('ADDED', 'a'));
      setTimeout(() => req.socket.destroy(), 20);
    });
    expect(o.events).to.deep.equal(['ADDED a']);
    expect(o.done).to.have.length(1);
    expect(o.done[0]).to.not.equal('null');
  });

  it('stops when its caller aborts, calling done once', async function () {
    const { server, kc } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(event('ADDED', 'a'));
    });
    const done: unknown[] = [];
    try {
      const events: string[] = [];
      const controller = await new StreamWatch(kc).watch(
        '/api/v1/pods',
        {},
        (type) => events.push(type),
        (err) => done.push(err),
      );
      await new Promise((r) => setTimeout(r, 50));
      controller.abort();
      await new Promise((r) => setTimeout(r, 50));
      expect({ events, done: done.length }).to.deep.equal({ events: ['ADDED'], done: 1 });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
