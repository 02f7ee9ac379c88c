// The reference tables in docs/ against the code's constants, so neither can drift from the other.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { load } from 'js-yaml';
import { REPO_ROOT } from '../support/cluster.js';
import { Metric, MetricAttr, SECONDS_METRICS } from '../../src/telemetry/metricnames.js';
import { Attr, BaggageKey, SpanEventName, SpanName } from '../../src/telemetry/names.js';

interface SpecSchema {
  'x-kubernetes-validations': { rule: string; message: string }[];
}

function doc(name: string): string {
  return readFileSync(path.join(REPO_ROOT, 'docs', name), 'utf8');
}

/** Every `code` span in a document. */
function codeSpans(text: string): Set<string> {
  return new Set([...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!));
}

function prometheusName(name: string): string {
  const base = name.replaceAll('.', '_');
  if ((SECONDS_METRICS as readonly string[]).includes(name)) return `${base}_seconds`;
  const counters = [
    'started',
    'completed',
    'failed',
    'retried',
    'reconciles',
    'errors',
    'delivered',
    'dropped',
  ];
  return counters.some((c) => name.endsWith(`.${c}`)) ? `${base}_total` : base;
}

describe('docs', function () {
  const telemetry = codeSpans(doc('telemetry.md'));
  const metrics = codeSpans(doc('metrics.md'));

  it('docs/telemetry.md names every span, attribute, event and baggage key the code emits', function () {
    const names = [
      ...Object.values(SpanName),
      ...Object.values(Attr).filter((a) => !a.startsWith('exception.')),
      ...Object.values(SpanEventName),
      ...Object.values(BaggageKey),
    ];
    expect(names.filter((n) => !telemetry.has(n))).to.deep.equal([]);
  });

  it('docs/telemetry.md names no mapreduce.* span or attribute the code does not have', function () {
    const known = new Set<string>([
      ...Object.values(SpanName),
      ...Object.values(Attr),
      ...Object.values(BaggageKey),
    ]);
    const documented = [...telemetry].filter((c) => /^mapreduce\.[a-z_.]+$/.test(c) && !c.includes('dev'));
    expect(documented.filter((c) => !known.has(c))).to.deep.equal([]);
  });

  it('docs/metrics.md lists every metric with its Prometheus name, and every attribute', function () {
    const missing = Object.values(Metric).flatMap((m) =>
      [m, prometheusName(m)].filter((n) => !metrics.has(n)),
    );
    expect(missing).to.deep.equal([]);
    const attrs = Object.values(MetricAttr).filter((a) => !metrics.has(a));
    expect(attrs).to.deep.equal([]);
  });

  it('docs/metrics.md names no mapreduce metric the code does not have', function () {
    const known = new Set(Object.values(Metric).flatMap((m) => [m, prometheusName(m)]));
    // Attribute keys (MetricAttr), in both spellings, are not metrics.
    const attributes = Object.values(MetricAttr).flatMap((a) => [a, a.replaceAll('.', '_')]);
    const documented = [...metrics].filter(
      (c) => /^mapreduce[._][a-z_.]+$/.test(c) && !attributes.includes(c),
    );
    expect(documented.filter((c) => !known.has(c))).to.deep.equal([]);
  });

  it('docs/api.md names exactly the spec fields the CRD makes immutable', function () {
    const crd = load(
      readFileSync(path.join(REPO_ROOT, 'crds', 'mapreduce.dev_mapreducejobs.yaml'), 'utf8'),
    ) as {
      spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: SpecSchema } } } }[] };
    };
    const rules = crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec['x-kubernetes-validations'];
    const inCrd = rules
      .map((r) => /^spec\.(\S+) is immutable$/.exec(r.message)?.[1])
      .filter((f) => f !== undefined);
    const sentence =
      /Immutable once the job exists[^:]*:([^.]*(?:\.[a-zA-Z][^.]*)*)\./.exec(doc('api.md'))?.[1] ?? '';
    const inDocs = [...sentence.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    expect(inDocs.sort()).to.deep.equal(inCrd.sort());
    expect(inCrd.sort()).to.deep.equal([
      'input',
      'map.activeDeadlineSeconds',
      'map.backoffLimitPerItem',
      'map.template',
      'reduce',
      'telemetry',
    ]);
  });
});
