// A namespaced install, the documented default: the chart with watchNamespaces=[a, b] grants Roles in a and b
// and nothing cluster-wide but the kube-system uid; the operator, with nothing but that ServiceAccount's
// token and --namespace=a,b (one informer pair per namespace), runs jobs in both and leaves c alone.
import { expect } from 'chai';
import { AuthorizationV1Api, KubeConfig } from '@kubernetes/client-node';
import { LABEL_JOB_NAME } from '../../src/api/constants.js';
import {
  cluster,
  createTestNamespace,
  deleteTestNamespace,
  kubeconfigPath,
  kubectl,
  sleep,
  waitFor,
} from '../support/cluster.js';
import { CHART, helm, serviceAccountKubeconfig } from '../support/helm.js';
import { createJob, getJob, waitForPhase } from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { startOperator } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';

/** Long enough for an operator that watched the namespace to have created the job's first pods. */
const UNWATCHED_GRACE_MS = 3000;

describe('namespaced install', function () {
  const release = `mrns-${Date.now().toString(36)}`;
  const namespaces: string[] = [];
  let watched: [string, string];
  let unwatched: string;
  let tokenKubeconfig: string;
  let operator: OperatorProcess | undefined;

  before(async function () {
    for (const prefix of ['nsa', 'nsb', 'nsc']) namespaces.push(await createTestNamespace(prefix));
    watched = [namespaces[0]!, namespaces[1]!];
    unwatched = namespaces[2]!;
    helm(
      'install',
      release,
      CHART,
      '--namespace',
      release,
      '--create-namespace',
      `--kubeconfig=${kubeconfigPath()}`,
      '--set',
      `watchNamespaces={${watched.join(',')}}`,
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
    for (const ns of namespaces) await deleteTestNamespace(ns);
  });

  it('installed Roles in the watched namespaces and no ClusterRole for jobs', function () {
    const where = kubectl(
      'get',
      'roles',
      '-A',
      '-l',
      `app.kubernetes.io/instance=${release}`,
      '-o',
      'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}',
    );
    expect(where.trim().split('\n').sort()).to.deep.equal(
      [
        `${watched[0]}/${release}-mapreduce-operator`,
        `${watched[1]}/${release}-mapreduce-operator`,
        `${release}/${release}-mapreduce-operator-leader-election`,
      ].sort(),
    );
    const clusterRoles = kubectl(
      'get',
      'clusterroles',
      '-l',
      `app.kubernetes.io/instance=${release}`,
      '-o',
      'name',
    );
    expect(clusterRoles.trim().split('\n')).to.deep.equal([
      `clusterrole.rbac.authorization.k8s.io/${release}-mapreduce-operator-cluster-uid`,
    ]);
  });

  it('runs jobs in each watched namespace with the Roles alone, and leaves an unwatched one alone', async function () {
    await createJob(unwatched, makeJob('elsewhere').items(['x']).obj());
    operator = await startOperator(watched.join(','), [
      `--kubeconfig=${tokenKubeconfig}`,
      '--leader-elect',
      `--leader-election-namespace=${release}`,
      `--leader-election-id=${release}-test-leader`,
    ]);
    expect(operator.logs.find((l) => l.msg === 'caches synced')).to.deep.include({
      namespace: watched.join(','),
    });
    // One job per namespace, through every path: a ConfigMap input, a retry, a reduce, ttlSecondsAfterFinished.
    await cluster().core.createNamespacedConfigMap({
      namespace: watched[0],
      body: { metadata: { name: 'words' }, data: { items: JSON.stringify(['a', 'b']) } },
    });
    await createJob(
      watched[0],
      makeJob('from-configmap').configMapInput('words', 'items').reduce('ok').obj(),
    );
    await createJob(
      watched[1],
      makeJob('retried')
        .items(['a', { sim: { failAttempts: 1 } }])
        .reduce('ok')
        .ttlSecondsAfterFinished(3)
        .obj(),
    );
    const first = await waitForPhase(watched[0], 'from-configmap', ['Succeeded', 'Failed']);
    expect(first.status).to.deep.include({ phase: 'Succeeded', succeededItems: 2, result: 'ok' });
    const second = await waitForPhase(watched[1], 'retried', ['Succeeded', 'Failed']);
    expect(second.status).to.deep.include({
      phase: 'Succeeded',
      succeededItems: 2,
      retries: 1,
      result: 'ok',
    });
    // Its TTL then deletes it: a delete only the Role in that namespace allows.
    await waitForDeleted(watched[1], 'retried');
    expect(operator.logs.filter((l) => (l.level as number) >= 50)).to.deep.equal([]);

    await sleep(UNWATCHED_GRACE_MS);
    // As the API server defaults it: never observed.
    expect((await getJob(unwatched, 'elsewhere')).status).to.deep.equal({ observedGeneration: 0 });
    const pods = await cluster().core.listNamespacedPod({
      namespace: unwatched,
      labelSelector: LABEL_JOB_NAME,
    });
    expect(pods.items).to.deep.equal([]);
  });

  const reviews: {
    what: string;
    namespace?: 'watched' | 'unwatched';
    attrs: Record<string, string>;
    allowed: boolean;
  }[] = [
    {
      what: 'create pods in a watched namespace',
      namespace: 'watched',
      attrs: { verb: 'create', resource: 'pods' },
      allowed: true,
    },
    {
      what: 'create pods in an unwatched namespace',
      namespace: 'unwatched',
      attrs: { verb: 'create', resource: 'pods' },
      allowed: false,
    },
    { what: 'list pods in every namespace', attrs: { verb: 'list', resource: 'pods' }, allowed: false },
    {
      what: 'watch MapReduceJobs in every namespace',
      attrs: { verb: 'watch', group: 'mapreduce.dev', resource: 'mapreducejobs' },
      allowed: false,
    },
    {
      what: 'read ConfigMaps in an unwatched namespace',
      namespace: 'unwatched',
      attrs: { verb: 'get', resource: 'configmaps' },
      allowed: false,
    },
  ];
  for (const r of reviews) {
    it(`${r.allowed ? 'may' : 'may not'} ${r.what}`, async function () {
      const kc = new KubeConfig();
      kc.loadFromFile(tokenKubeconfig);
      const namespace =
        r.namespace === 'watched' ? watched[1] : r.namespace === 'unwatched' ? unwatched : undefined;
      const review = await kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { ...(namespace ? { namespace } : {}), ...r.attrs } } },
      });
      expect(review.status?.allowed ?? false).to.equal(r.allowed);
    });
  }
});

async function waitForDeleted(namespace: string, name: string): Promise<void> {
  await waitFor(`job ${namespace}/${name} to be deleted by its TTL`, async () => {
    try {
      await getJob(namespace, name);
      return undefined;
    } catch (err) {
      return (err as { code?: number }).code === 404 ? true : undefined;
    }
  });
}
