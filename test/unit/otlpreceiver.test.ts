// The test-support OTLP receiver's fault modes, driven by plain fetch POSTs as an exporter would send them.
import { expect } from 'chai';
import { createServer } from 'node:http';
import { gzipSync } from 'node:zlib';
import { OtlpReceiver, otlpStatusBody } from '../support/otlpreceiver.js';
import type { OtlpSpan, TracesMode } from '../support/otlpreceiver.js';

const TRACE_ID = '5b8efff798038103d269b633813fc60c';
const RESOURCE = [{ key: 'service.name', value: { stringValue: 'mapreduce-operator' } }];
const SCOPE = { name: 'mapreduce-operator', version: '0.1.0' };

function span(spanId: string, name = 'map'): OtlpSpan {
  return { traceId: TRACE_ID, spanId, name, attributes: [{ key: 'k', value: { intValue: '1' } }] };
}

/** An http/json ExportTraceServiceRequest with one resourceSpans/scopeSpans/spans entry. */
function tracesBody(s: OtlpSpan): string {
  return JSON.stringify({
    resourceSpans: [{ resource: { attributes: RESOURCE }, scopeSpans: [{ scope: SCOPE, spans: [s] }] }],
  });
}

async function post(
  receiver: OtlpReceiver,
  body: string | Buffer,
  opts: { path?: string; gzip?: boolean } = {},
): Promise<{ status: number; body: string }> {
  const res = await fetch(`${receiver.endpoint}${opts.path ?? '/v1/traces'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(opts.gzip ? { 'content-encoding': 'gzip' } : {}) },
    body: opts.gzip ? gzipSync(body) : body,
  });
  return { status: res.status, body: await res.text() };
}

/** The errno code under fetch's "fetch failed" TypeError. */
async function connectError(receiver: OtlpReceiver): Promise<string | undefined> {
  try {
    await post(receiver, tracesBody(span('00f067aa0ba902b7')));
  } catch (err) {
    return ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
  }
  return undefined;
}

describe('OtlpReceiver', function () {
  let receiver: OtlpReceiver;

  beforeEach(async function () {
    receiver = await OtlpReceiver.start();
  });

  afterEach(async function () {
    await receiver.stop();
  });

  const BODY = tracesBody(span('00f067aa0ba902b7'));
  const BODY_BYTES = Buffer.byteLength(BODY);
  const cases: {
    name: string;
    mode?: TracesMode;
    path?: string;
    gzip?: boolean;
    expected: { status: number; body: string; recorded: number; received: number; refused: number };
  }[] = [
    {
      name: 'accepts and records by default',
      expected: { status: 200, body: '{}', recorded: 1, received: 1, refused: 0 },
    },
    {
      name: 'status 401 answers 401 with an UNAUTHENTICATED body and records nothing',
      mode: { kind: 'status', status: 401 },
      expected: {
        status: 401,
        body: '{"code":16,"message":"Unauthorized"}',
        recorded: 0,
        received: 1,
        refused: 1,
      },
    },
    {
      name: 'status 503 with record=true answers 503 and still records what was sent',
      mode: { kind: 'status', status: 503, record: true, message: 'collector is restarting' },
      expected: {
        status: 503,
        body: '{"code":14,"message":"collector is restarting"}',
        recorded: 1,
        received: 1,
        refused: 1,
      },
    },
    {
      name: 'maxBytes accepts a body of exactly maxBytes',
      mode: { kind: 'maxBytes', maxBytes: BODY_BYTES },
      expected: { status: 200, body: '{}', recorded: 1, received: 1, refused: 0 },
    },
    {
      name: 'maxBytes answers 413 to a body one byte over, unrecorded',
      mode: { kind: 'maxBytes', maxBytes: BODY_BYTES - 1 },
      expected: {
        status: 413,
        body: `{"code":8,"message":"${BODY_BYTES} bytes is more than ${BODY_BYTES - 1}"}`,
        recorded: 0,
        received: 1,
        refused: 1,
      },
    },
    {
      name: 'maxBytes measures a gzipped body decompressed',
      mode: { kind: 'maxBytes', maxBytes: BODY_BYTES - 1 },
      gzip: true,
      expected: {
        status: 413,
        body: `{"code":8,"message":"${BODY_BYTES} bytes is more than ${BODY_BYTES - 1}"}`,
        recorded: 0,
        received: 1,
        refused: 1,
      },
    },
    {
      name: 'other paths get 200 and are recorded whatever the mode, and are not trace requests',
      mode: { kind: 'status', status: 503 },
      path: '/v1/metrics',
      expected: { status: 200, body: '{}', recorded: 1, received: 0, refused: 0 },
    },
  ];
  for (const c of cases) {
    it(c.name, async function () {
      if (c.mode) receiver.respondWith(c.mode);
      const res = await post(receiver, BODY, { path: c.path, gzip: c.gzip });
      expect({
        status: res.status,
        body: res.body,
        recorded: receiver.requests.length,
        received: receiver.received,
        refused: receiver.refused,
      }).to.deep.equal(c.expected);
      const recorded = c.expected.recorded ? [{ path: c.path ?? '/v1/traces', body: BODY }] : [];
      expect(receiver.requests).to.deep.equal(recorded);
    });
  }

  it('switches mode at run time: refused while 503, accepted again after accept', async function () {
    receiver.respondWith({ kind: 'status', status: 503 });
    expect((await post(receiver, BODY)).status).to.equal(503);
    receiver.respondWith({ kind: 'accept' });
    expect((await post(receiver, BODY)).status).to.equal(200);
    expect({
      received: receiver.received,
      refused: receiver.refused,
      recorded: receiver.requests.length,
    }).to.deep.equal({ received: 2, refused: 1, recorded: 1 });
  });

  it('refuses a mode that cannot work, naming it', function () {
    expect(() => receiver.respondWith({ kind: 'status', status: 99 })).to.throw(
      RangeError,
      'status must be an HTTP status from 200 to 599, not 99',
    );
    expect(() => receiver.respondWith({ kind: 'maxBytes', maxBytes: -1 })).to.throw(
      RangeError,
      'maxBytes must be a whole number ≥ 0, not -1',
    );
  });

  it('otlpStatusBody maps the HTTP status to the google.rpc code', function () {
    expect(
      [400, 401, 403, 404, 413, 429, 500, 502, 503, 504, 418].map((s) => otlpStatusBody(s, '')),
    ).to.deep.equal([3, 16, 7, 5, 8, 8, 13, 14, 14, 14, 2].map((code) => `{"code":${code},"message":""}`));
  });

  it('down() refuses connections and up() serves again on the same endpoint', async function () {
    const endpoint = receiver.endpoint;
    expect((await post(receiver, BODY)).status).to.equal(200); // leaves a keep-alive connection open
    await receiver.down();
    expect(await connectError(receiver)).to.equal('ECONNREFUSED');
    await receiver.up();
    expect(receiver.endpoint).to.equal(endpoint);
    expect((await post(receiver, BODY)).status).to.equal(200);
    expect({ received: receiver.received, recorded: receiver.requests.length }).to.deep.equal({
      received: 2,
      recorded: 2,
    });
  });

  it('up() waits for its port while another listener briefly holds it', async function () {
    await receiver.down();
    const port = Number(new URL(receiver.endpoint).port);
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    setTimeout(() => squatter.close(), 200);
    await receiver.up();
    expect((await post(receiver, BODY)).status).to.equal(200);
  });

  it('spanCopies() keeps each recorded copy as parsed; duplicates() names the spans sent twice', async function () {
    // Keys out of the usual order: the copies keep the order they arrived in.
    const twice = { name: 'reduce', spanId: 'aaaaaaaaaaaaaaaa', traceId: TRACE_ID } as OtlpSpan;
    const once = span('bbbbbbbbbbbbbbbb');
    await post(receiver, tracesBody(twice));
    await post(receiver, tracesBody(once), { gzip: true });
    receiver.respondWith({ kind: 'status', status: 401 });
    await post(receiver, tracesBody(twice)); // refused and unrecorded: not a copy
    receiver.respondWith({ kind: 'accept' });
    await post(receiver, tracesBody(twice));

    const copies = receiver.spanCopies();
    const twiceText =
      '{"resource":[{"key":"service.name","value":{"stringValue":"mapreduce-operator"}}],' +
      '"scope":{"name":"mapreduce-operator","version":"0.1.0"},' +
      `"span":{"name":"reduce","spanId":"aaaaaaaaaaaaaaaa","traceId":"${TRACE_ID}"}}`;
    expect([...copies.keys()]).to.deep.equal(['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
    expect(copies.get('aaaaaaaaaaaaaaaa')).to.deep.equal([twiceText, twiceText]);
    expect(copies.get('bbbbbbbbbbbbbbbb')).to.deep.equal([
      JSON.stringify({ resource: RESOURCE, scope: SCOPE, span: once }),
    ]);
    expect(receiver.duplicates()).to.deep.equal(['aaaaaaaaaaaaaaaa']);
  });
});
