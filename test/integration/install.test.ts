// Installing the operator: the Helm chart (lint, template, values schema, install onto the local control
// plane), its RBAC proven sufficient by running a job with the installed ServiceAccount's token alone and
// proven narrow by access reviews, `helm test`, and the plain manifests generated from it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { load, loadAll } from 'js-yaml';
import { AuthorizationV1Api, KubeConfig } from '@kubernetes/client-node';
import type { V1Deployment, V1PolicyRule } from '@kubernetes/client-node';
import { kubeconfigPath, kubectl, REPO_ROOT, useTestNamespace } from '../support/cluster.js';
import { CHART, helm, helmError, KUBE_VERSION, serviceAccountKubeconfig } from '../support/helm.js';
import { createJob, waitForPhase } from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { startOperator } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: V1PolicyRule[];
  [key: string]: unknown;
}

function render(...set: string[]): Manifest[] {
  const out = helm('template', 'mr', CHART, '-n', 'mr-system', '--kube-version', KUBE_VERSION, ...set);
  return (loadAll(out) as (Manifest | null)[]).filter((m): m is Manifest => m !== null);
}

function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const m = manifests.find((x) => x.kind === kind && x.metadata.name === name);
  expect(m, `${kind} ${name}`).to.not.equal(undefined);
  return m!;
}

/** Exactly the verbs src/ uses (the chart's comments name the code path of each). */
const JOB_RULES: V1PolicyRule[] = [
  {
    apiGroups: ['mapreduce.dev'],
    resources: ['mapreducejobs'],
    verbs: ['get', 'list', 'watch', 'delete', 'patch'],
  },
  { apiGroups: ['mapreduce.dev'], resources: ['mapreducejobs/status'], verbs: ['update'] },
  { apiGroups: ['mapreduce.dev'], resources: ['mapreducejobs/finalizers'], verbs: ['update'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'create', 'delete', 'patch'] },
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'create', 'delete', 'patch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
];

describe('install', function () {
  it('ships the same CRD in the chart as in crds/', function () {
    const file = 'mapreduce.dev_mapreducejobs.yaml';
    expect(readFileSync(path.join(CHART, 'crds', file), 'utf8')).to.equal(
      readFileSync(path.join(REPO_ROOT, 'crds', file), 'utf8'),
    );
  });

  it('passes helm lint', function () {
    expect(helm('lint', CHART, '--kube-version', KUBE_VERSION)).to.include(
      '1 chart(s) linted, 0 chart(s) failed',
    );
  });

  it('renders without --kube-version, as GitOps tools render offline', function () {
    const out = helm('template', 'mr', CHART, '-n', 'mr-system');
    const kinds = (loadAll(out) as (Manifest | null)[]).filter((m) => m !== null).map((m) => m.kind);
    expect(kinds).to.include.members(['Deployment', 'ClusterRole', 'Service']);
  });

  it('renders a locked-down Deployment with the downward-API env for resource attributes', function () {
    const deployment = find(render(), 'Deployment', 'mr-mapreduce-operator') as unknown as V1Deployment;
    const pod = deployment.spec!.template.spec!;
    const container = pod.containers[0]!;
    expect(deployment.spec!.replicas).to.equal(2);
    expect(pod.securityContext).to.deep.equal({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).to.deep.equal({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.automountServiceAccountToken).to.equal(true);
    const env = Object.fromEntries(
      (container.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath ?? e.value]),
    );
    expect(env).to.deep.include({
      POD_NAME: 'metadata.name',
      POD_NAMESPACE: 'metadata.namespace',
      POD_UID: 'metadata.uid',
      NODE_NAME: 'spec.nodeName',
    });
    expect(container.args).to.include.members([
      '--leader-elect=true',
      '--metrics-port=9464',
      '--metrics-bind-address=0.0.0.0',
      '--metrics-per-job=false',
      '--span-delivery-timeout=10m',
      '--kube-api-qps=100',
      '--kube-api-burst=200',
    ]);
    const sa = find(render(), 'ServiceAccount', 'mr-mapreduce-operator');
    expect(sa.automountServiceAccountToken).to.equal(false);
  });

  it('grants exactly the rules the operator needs: cluster-wide, or in the one namespace it watches', function () {
    const all = render();
    expect(find(all, 'ClusterRole', 'mr-mapreduce-operator').rules).to.deep.equal(JOB_RULES);
    expect(find(all, 'ClusterRole', 'mr-mapreduce-operator-cluster-uid').rules).to.deep.equal([
      { apiGroups: [''], resources: ['namespaces'], resourceNames: ['kube-system'], verbs: ['get'] },
    ]);
    expect(find(all, 'Role', 'mr-mapreduce-operator-leader-election').rules).to.deep.equal([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
    ]);

    const one = render('--set', 'watchNamespace=team-a');
    const role = find(one, 'Role', 'mr-mapreduce-operator');
    expect([role.metadata.namespace, role.rules]).to.deep.equal(['team-a', JOB_RULES]);
    expect(one.filter((m) => m.kind === 'ClusterRole').map((m) => m.metadata.name)).to.deep.equal([
      'mr-mapreduce-operator-cluster-uid',
    ]);
    const args = (find(one, 'Deployment', 'mr-mapreduce-operator') as unknown as V1Deployment).spec!.template
      .spec!.containers[0]!.args;
    expect(args).to.include('--namespace=team-a');
  });

  it("sets NODE_OPTIONS to its nodeOptions (the image's V8 heap flags by default), and none when empty", function () {
    const nodeOptions = (manifests: ReturnType<typeof render>): (string | undefined)[] =>
      (find(manifests, 'Deployment', 'mr-mapreduce-operator') as unknown as V1Deployment)
        .spec!.template.spec!.containers[0]!.env!.filter((e) => e.name === 'NODE_OPTIONS')
        .map((e) => e.value);
    expect(nodeOptions(render())).to.deep.equal(['--max-semi-space-size=16 --max-old-space-size=256']);
    expect(nodeOptions(render('--set', 'nodeOptions=--max-old-space-size=400'))).to.deep.equal([
      '--max-old-space-size=400',
    ]);
    expect(nodeOptions(render('--set', 'nodeOptions='))).to.deep.equal([]);
  });

  it('sets the OTEL_* variables of its telemetry values, and none of them by default', function () {
    const otelEnv = (manifests: ReturnType<typeof render>): Record<string, string | undefined> =>
      Object.fromEntries(
        (find(manifests, 'Deployment', 'mr-mapreduce-operator') as unknown as V1Deployment)
          .spec!.template.spec!.containers[0]!.env!.filter((e) =>
            /^OTEL_(TRACES|METRICS|LOGS)_EXPORTER$|^OTEL_EXPORTER_ZIPKIN_ENDPOINT$|^OTEL_PROPAGATORS$|^OTEL_SDK_DISABLED$/.test(
              e.name,
            ),
          )
          .map((e) => [e.name, e.value]),
      );
    expect(otelEnv(render())).to.deep.equal({});
    expect(
      otelEnv(
        render(
          '--set-string',
          'telemetry.traces.exporter=otlp\\,zipkin',
          '--set',
          'telemetry.zipkin.endpoint=http://zipkin.observability:9411/api/v2/spans',
          '--set',
          'telemetry.metrics.exporter=prometheus',
          '--set',
          'telemetry.logs.exporter=otlp',
          '--set',
          'telemetry.propagators=tracecontext',
          '--set',
          'telemetry.disabled=true',
        ),
      ),
    ).to.deep.equal({
      OTEL_TRACES_EXPORTER: 'otlp,zipkin',
      OTEL_EXPORTER_ZIPKIN_ENDPOINT: 'http://zipkin.observability:9411/api/v2/spans',
      OTEL_METRICS_EXPORTER: 'prometheus',
      OTEL_LOGS_EXPORTER: 'otlp',
      OTEL_PROPAGATORS: 'tracecontext',
      OTEL_SDK_DISABLED: 'true',
    });
  });

  it('grants a Role and RoleBinding in each of several namespaces, and watches just those', function () {
    const several = render('--set', 'watchNamespaces={team-a,team-b}', '--set', 'watchNamespace=team-c');
    const roles = several.filter((m) => m.kind === 'Role' && m.metadata.name === 'mr-mapreduce-operator');
    expect(roles.map((r) => [r.metadata.namespace, r.rules])).to.deep.equal([
      ['team-a', JOB_RULES],
      ['team-b', JOB_RULES],
      ['team-c', JOB_RULES],
    ]);
    const bindings = several.filter(
      (m) => m.kind === 'RoleBinding' && m.metadata.name === 'mr-mapreduce-operator',
    );
    expect(bindings.map((b) => b.metadata.namespace)).to.deep.equal(['team-a', 'team-b', 'team-c']);
    expect(several.filter((m) => m.kind === 'ClusterRole').map((m) => m.metadata.name)).to.deep.equal([
      'mr-mapreduce-operator-cluster-uid',
    ]);
    const args = (find(several, 'Deployment', 'mr-mapreduce-operator') as unknown as V1Deployment).spec!
      .template.spec!.containers[0]!.args;
    expect(args).to.include('--namespace=team-a,team-b,team-c');
  });

  it('renders the metrics NetworkPolicy only when enabled: ingress to the metrics port from the scraper alone', function () {
    expect(render().filter((m) => m.kind === 'NetworkPolicy')).to.deep.equal([]);
    const scraper = {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'obs' } },
      podSelector: { matchLabels: { app: 'prom' } },
    };
    const values = path.join(mkdtempSync(path.join(tmpdir(), 'values-')), 'values.yaml');
    writeFileSync(values, JSON.stringify({ metrics: { networkPolicy: { enabled: true, from: [scraper] } } }));
    const policy = find(render('-f', values), 'NetworkPolicy', 'mr-mapreduce-operator-metrics');
    expect(policy.metadata.namespace).to.equal('mr-system');
    expect(policy.spec).to.deep.equal({
      podSelector: {
        matchLabels: { 'app.kubernetes.io/name': 'mapreduce-operator', 'app.kubernetes.io/instance': 'mr' },
      },
      policyTypes: ['Ingress'],
      ingress: [{ from: [scraper], ports: [{ protocol: 'TCP', port: 'metrics' }] }],
    });
    const defaults = find(
      render('--set', 'metrics.networkPolicy.enabled=true'),
      'NetworkPolicy',
      'mr-mapreduce-operator-metrics',
    );
    expect((defaults.spec as { ingress: unknown[] }).ingress).to.deep.equal([
      {
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
          },
        ],
        ports: [{ protocol: 'TCP', port: 'metrics' }],
      },
    ]);
  });

  const badValues: { set: string; error: string }[] = [
    { set: 'replicaCount=-1', error: "at '/replicaCount': minimum: got -1, want 0" },
    { set: 'telemetry.otlp.protocol=thrift', error: "at '/telemetry/otlp/protocol': value must be one of" },
    { set: 'watchNamespace=Team_A', error: "at '/watchNamespace'" },
    { set: 'logLevel=verbose', error: "at '/logLevel': value must be one of" },
    { set: 'telemetry.logs.exporter=kafka', error: "at '/telemetry/logs/exporter': value must be one of" },
    { set: 'telemetry.traces.exporter=jaeger', error: "at '/telemetry/traces/exporter'" },
    { set: 'telemetry.zipkin.endpoint=zipkin:9411', error: "at '/telemetry/zipkin/endpoint'" },
    { set: 'metrics.prot=1', error: "additional properties 'prot' not allowed" },
    { set: 'watchNamespaces={team-a,Team_B}', error: "at '/watchNamespaces/1'" },
    { set: 'metrics.bindAddress=0.0.0.0:9464', error: "at '/metrics/bindAddress'" },
    { set: 'metrics.bindAddress=:9464', error: "at '/metrics/bindAddress'" },
    { set: 'metrics.networkPolicy.from[0].ports=1', error: "additional properties 'ports' not allowed" },
    {
      set: 'metrics.networkPolicy.enabled=true,metrics.networkPolicy.from=null',
      error: 'metrics.networkPolicy.from: name the scraper',
    },
  ];
  for (const tc of badValues) {
    it(`refuses --set ${tc.set}, naming the value`, function () {
      expect(helmError('template', 'mr', CHART, '--kube-version', KUBE_VERSION, '--set', tc.set)).to.include(
        tc.error,
      );
    });
  }

  it('keeps manifests/ in sync with the chart (hack/gen-manifests.sh)', function () {
    const dir = mkdtempSync(path.join(tmpdir(), 'manifests-'));
    execFileSync('bash', [path.join(REPO_ROOT, 'hack', 'gen-manifests.sh')], {
      env: { ...process.env, MANIFESTS_DIR: dir },
      stdio: 'pipe',
    });
    const files = [
      'install.yaml',
      'kustomize/base/install.yaml',
      ...readdirSync(path.join(dir, 'examples')).map((f) => `examples/${f}`),
    ];
    for (const f of files)
      expect(
        readFileSync(path.join(REPO_ROOT, 'manifests', f), 'utf8'),
        `manifests/${f}: run hack/gen-manifests.sh`,
      ).to.equal(readFileSync(path.join(dir, f), 'utf8'));
    const kinds = (loadAll(readFileSync(path.join(dir, 'install.yaml'), 'utf8')) as (Manifest | null)[])
      .filter((m): m is Manifest => m !== null)
      .map((m) => m.kind);
    expect(kinds.slice(0, 2)).to.deep.equal(['Namespace', 'CustomResourceDefinition']);
    const overlay = kubectl(
      'kustomize',
      path.join(REPO_ROOT, 'manifests', 'kustomize', 'overlays', 'example'),
    );
    expect(overlay).to.include('http://otel-collector.observability:4317');
  });

  describe('on the local control plane', function () {
    const ns = useTestNamespace('inst');
    const release = `mr-${Date.now().toString(36)}`;
    let tokenKubeconfig: string;
    let operator: OperatorProcess | undefined;

    before(function () {
      helm(
        'install',
        release,
        CHART,
        '--namespace',
        release,
        '--create-namespace',
        `--kubeconfig=${kubeconfigPath()}`,
        // kwok runs no container; keep the Deployment's simulated pods from churning.
        '--set-string',
        'podAnnotations.sim\\.mapreduce\\.dev/never-finish=true',
      );
      tokenKubeconfig = serviceAccountKubeconfig(release, `${release}-mapreduce-operator`);
    });

    after(async function () {
      await operator?.kill();
      helm('uninstall', release, '--namespace', release, `--kubeconfig=${kubeconfigPath()}`);
      kubectl('delete', 'namespace', release, '--wait=false');
    });

    it('installed the release', function () {
      const deployment = load(
        kubectl('get', 'deployment', `${release}-mapreduce-operator`, '-n', release, '-o', 'yaml'),
      ) as V1Deployment;
      expect(deployment.spec?.replicas).to.equal(2);
    });

    it('runs a job with nothing but the installed ServiceAccount’s token', async function () {
      operator = await startOperator(ns.name, [
        `--kubeconfig=${tokenKubeconfig}`,
        '--leader-elect',
        `--leader-election-namespace=${release}`,
        `--leader-election-id=${release}-test-leader`,
      ]);
      await createJob(
        ns.name,
        makeJob('rbac')
          .items(['a', 'b', { sim: { failAttempts: 1 } }])
          .reduce('ok')
          .obj(),
      );
      const job = await waitForPhase(ns.name, 'rbac', ['Succeeded', 'Failed']);
      expect(job.status).to.deep.include({ phase: 'Succeeded', succeededItems: 3, retries: 1, result: 'ok' });
      expect(operator.logs.filter((l) => (l.level as number) >= 50)).to.deep.equal([]);
    });

    it('passes helm test: the smoke job Succeeds, and the wait pod’s command passes with the pod’s own RBAC', async function () {
      const smoke = `${release}-mapreduce-operator-smoke`;
      const watcher = await startOperator(release, [`--kubeconfig=${tokenKubeconfig}`]);
      try {
        const out = helm(
          'test',
          release,
          '--namespace',
          release,
          `--kubeconfig=${kubeconfigPath()}`,
          '--timeout=2m',
        );
        expect(out).to.match(new RegExp(`TEST SUITE:\\s+${smoke}-wait\\n[^]*Phase:\\s+Succeeded`));
        const job = await waitForPhase(release, smoke, ['Succeeded', 'Failed']);
        expect(job.status).to.deep.include({ phase: 'Succeeded', succeededItems: 2, failedItems: 0 });
      } finally {
        await watcher.kill();
      }
      // kwok runs no container, so the wait pod's own command is run here: the same kubectl arguments, as
      // the pod's ServiceAccount, with the Role the chart gives it (applied as plain objects).
      const rendered = loadAll(
        helm(
          'template',
          release,
          CHART,
          '-n',
          release,
          '--kube-version',
          KUBE_VERSION,
          '--show-only',
          'templates/tests/smoke.yaml',
        ),
      ) as Manifest[];
      const identity = rendered.filter((m) => ['ServiceAccount', 'Role', 'RoleBinding'].includes(m.kind));
      execFileSync('kubectl', ['--kubeconfig', kubeconfigPath(), 'apply', '-f', '-'], {
        input: identity.map((m) => JSON.stringify(m)).join('\n'),
      });
      const pod = rendered.find((m) => m.kind === 'Pod') as unknown as {
        spec: { containers: { args: string[] }[] };
      };
      const as = `--as=system:serviceaccount:${release}:${smoke}`;
      expect(kubectl(as, ...pod.spec.containers[0]!.args).trim()).to.equal(
        `mapreducejob.mapreduce.dev/${smoke} condition met`,
      );
      expect(() => kubectl(as, 'get', 'mapreducejobs', '-n', release)).to.throw(/forbidden/);
    });

    const reviews: { what: string; attrs: Record<string, string>; allowed: boolean }[] = [
      { what: 'create pods', attrs: { verb: 'create', resource: 'pods' }, allowed: true },
      {
        what: 'patch pods (their tracking finalizer)',
        attrs: { verb: 'patch', resource: 'pods' },
        allowed: true,
      },
      {
        what: 'update a job’s status',
        attrs: { verb: 'update', group: 'mapreduce.dev', resource: 'mapreducejobs', subresource: 'status' },
        allowed: true,
      },
      {
        what: 'read the kube-system namespace',
        attrs: { verb: 'get', resource: 'namespaces', name: 'kube-system' },
        allowed: true,
      },
      {
        what: 'update a job’s finalizers (blockOwnerDeletion)',
        attrs: {
          verb: 'update',
          group: 'mapreduce.dev',
          resource: 'mapreducejobs',
          subresource: 'finalizers',
        },
        allowed: true,
      },
      { what: 'delete a ConfigMap', attrs: { verb: 'delete', resource: 'configmaps' }, allowed: true },
      { what: 'patch an Event (its count)', attrs: { verb: 'patch', resource: 'events' }, allowed: true },
      { what: 'watch ConfigMaps', attrs: { verb: 'watch', resource: 'configmaps' }, allowed: false },
      {
        what: 'patch ConfigMaps (a merged re-run owns the earlier result pieces too)',
        attrs: { verb: 'patch', resource: 'configmaps' },
        allowed: true,
      },
      {
        what: 'patch a job’s status',
        attrs: { verb: 'patch', group: 'mapreduce.dev', resource: 'mapreducejobs', subresource: 'status' },
        allowed: false,
      },
      {
        what: 'read a job’s status',
        attrs: { verb: 'get', group: 'mapreduce.dev', resource: 'mapreducejobs', subresource: 'status' },
        allowed: false,
      },
      { what: 'read Secrets', attrs: { verb: 'get', resource: 'secrets' }, allowed: false },
      {
        what: 'change a job’s spec',
        attrs: { verb: 'update', group: 'mapreduce.dev', resource: 'mapreducejobs' },
        allowed: false,
      },
      {
        what: 'delete all ConfigMaps at once',
        attrs: { verb: 'deletecollection', resource: 'configmaps' },
        allowed: false,
      },
      { what: 'list nodes', attrs: { verb: 'list', resource: 'nodes' }, allowed: false },
      {
        what: 'read another namespace object',
        attrs: { verb: 'get', resource: 'namespaces', name: 'default' },
        allowed: false,
      },
      {
        what: 'exec into pods',
        attrs: { verb: 'create', resource: 'pods', subresource: 'exec' },
        allowed: false,
      },
    ];
    for (const r of reviews) {
      it(`${r.allowed ? 'may' : 'may not'} ${r.what}`, async function () {
        const kc = new KubeConfig();
        kc.loadFromFile(tokenKubeconfig);
        const review = await kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
          body: { spec: { resourceAttributes: { namespace: ns.name, ...r.attrs } } },
        });
        expect(review.status?.allowed ?? false).to.equal(r.allowed);
      });
    }
  });
});
