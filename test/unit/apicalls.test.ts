// The bench's API call counting (bench/apicalls.ts): the API server's request counter, read from its /metrics
// text, summed by verb and resource, differenced between two scrapes, the bench's own calls taken off.
import { expect } from 'chai';
import { actorOf, callsBetween, callsOf, requestCounts } from '../../bench/apicalls.js';
import type { ApiCallRow } from '../../bench/apicalls.js';

/** One apiserver_request_total sample line, with the labels the API server writes. */
function sample(verb: string, resource: string, value: number, extra: Record<string, string> = {}): string {
  const labels = {
    code: '200',
    component: 'apiserver',
    dry_run: '',
    group: '',
    resource,
    scope: 'namespace',
    subresource: '',
    verb,
    version: 'v1',
    ...extra,
  };
  const text = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return `apiserver_request_total{${text}} ${value}`;
}

function metrics(...samples: string[]): string {
  return [
    '# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each verb, ...',
    '# TYPE apiserver_request_total counter',
    ...samples,
    '# HELP apiserver_current_inflight_requests Maximal number of currently used inflight request limit.',
    '# TYPE apiserver_current_inflight_requests gauge',
    'apiserver_current_inflight_requests{request_kind="mutating"} 3',
    '',
  ].join('\n');
}

describe('bench API call counting', () => {
  it('keys counts by verb, group-qualified resource with its subresource, and code', () => {
    const counts = requestCounts(
      metrics(
        sample('POST', 'pods', 10),
        sample('POST', 'pods', 2, { scope: 'resource' }), // summed over scope
        sample('POST', 'pods', 1, { code: '409' }),
        sample('PATCH', 'pods', 4, { subresource: 'status' }),
        sample('PUT', 'mapreducejobs', 5, {
          group: 'mapreduce.dev',
          version: 'v1alpha1',
          subresource: 'status',
        }),
        sample('GET', '', 7, { subresource: '/healthz', component: '' }),
      ),
    );
    expect(Object.fromEntries(counts)).to.deep.equal({
      'post pods 200': 12,
      'post pods 409': 1,
      'patch pods/status 200': 4,
      'put mapreducejobs.mapreduce.dev/status 200': 5,
      'get /healthz 200': 7,
    });
  });

  const cases: {
    name: string;
    before: string[];
    after: string[];
    own?: [string, number][];
    want: ApiCallRow[];
  }[] = [
    {
      name: 'the difference, most first; rows that did not move are left out',
      before: [sample('POST', 'pods', 10), sample('DELETE', 'pods', 3), sample('GET', 'nodes', 9)],
      after: [sample('POST', 'pods', 30), sample('DELETE', 'pods', 8), sample('GET', 'nodes', 9)],
      want: [
        { verb: 'post', resource: 'pods', calls: 20, errors: 0 },
        { verb: 'delete', resource: 'pods', calls: 5, errors: 0 },
      ],
    },
    {
      name: 'a row first seen in the second scrape counts from zero; 4xx and 5xx codes are its errors',
      before: [sample('POST', 'pods', 10)],
      after: [
        sample('POST', 'pods', 12),
        sample('POST', 'pods', 3, { code: '409' }),
        sample('POST', 'pods', 1, { code: '503' }),
      ],
      want: [{ verb: 'post', resource: 'pods', calls: 6, errors: 4 }],
    },
    {
      name: "the caller's own calls are taken off their row, and a row left at zero goes",
      before: [],
      after: [
        sample('GET', 'mapreducejobs', 40, { group: 'mapreduce.dev' }),
        sample('LIST', 'pods', 3),
        sample('POST', 'pods', 2),
      ],
      own: [
        ['get mapreducejobs.mapreduce.dev', 38],
        ['list pods', 3],
      ],
      want: [
        { verb: 'get', resource: 'mapreducejobs.mapreduce.dev', calls: 2, errors: 0 },
        { verb: 'post', resource: 'pods', calls: 2, errors: 0 },
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const rows = callsBetween(
        requestCounts(metrics(...c.before)),
        requestCounts(metrics(...c.after)),
        new Map(c.own ?? []),
      );
      expect(rows).to.deep.equal(c.want);
    });
  }

  it('callsOf reads one row, 0 when absent', () => {
    const rows: ApiCallRow[] = [{ verb: 'post', resource: 'pods', calls: 7, errors: 0 }];
    expect([callsOf(rows, 'post', 'pods'), callsOf(rows, 'delete', 'pods')]).to.deep.equal([7, 0]);
  });

  it('names the usual maker of a row', () => {
    expect(
      [
        ['post', 'pods/binding'],
        ['patch', 'pods/status'],
        ['post', 'pods'],
        ['put', 'mapreducejobs.mapreduce.dev/status'],
        ['get', 'nodes'],
        ['watch', 'pods'],
      ].map(([verb, resource]) => actorOf({ verb: verb!, resource: resource! })),
    ).to.deep.equal(['scheduler', 'kwok', 'operator', 'operator', '', '']);
  });
});
