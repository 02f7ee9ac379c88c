// The chart's ValidatingAdmissionPolicy (templates/admissionpolicy.yaml) on the real API server: creating a
// MapReduceJob gives its creator no right they lack. Users of different rights are impersonated; every
// refusal is the API server's own answer and names the field. The policy and binding are cluster-scoped, so
// each run renders them under its own release name, binds them to its own namespace only (other suites on the
// shared cluster are untouched) and deletes them afterwards.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { loadAll } from 'js-yaml';
import {
  AdmissionregistrationV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type {
  RequestContext,
  V1PodSpec,
  V1PolicyRule,
  V1ValidatingAdmissionPolicy,
  V1ValidatingAdmissionPolicyBinding,
} from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/api/types.js';
import type { MapReduceJob } from '../../src/api/types.js';
import { apiMessage, apiStatusCode } from '../../src/apierrors.js';
import {
  cluster,
  createTestNamespace,
  deleteTestNamespace,
  kubeconfigPath,
  waitFor,
} from '../support/cluster.js';
import { CHART, helm, helmError, KUBE_VERSION } from '../support/helm.js';
import { makeJob } from '../support/jobbuilder.js';

const POLICY_TEMPLATE = 'templates/admissionpolicy.yaml';

interface Rendered {
  kind: string;
  metadata: { name: string };
  [key: string]: unknown;
}

function renderPolicy(release: string, ...set: string[]): Rendered[] {
  const out = helm(
    'template',
    release,
    CHART,
    '--kube-version',
    KUBE_VERSION,
    '--show-only',
    POLICY_TEMPLATE,
    ...set,
  );
  return (loadAll(out) as (Rendered | null)[]).filter((m): m is Rendered => m !== null);
}

function renderError(...args: string[]): string {
  return helmError('template', 'mr', CHART, ...args);
}

/** The field each validation names, from its static message ("<field>: Forbidden: ..."). */
function fieldsChecked(manifests: Rendered[]): string[] {
  const policy = manifests.find((m) => m.kind === 'ValidatingAdmissionPolicy') as unknown as
    V1ValidatingAdmissionPolicy | undefined;
  return (policy?.spec?.validations ?? []).map((v) => (v.message ?? '').split(':')[0]!);
}

/** A KubeConfig that sends every request as another user (the Impersonate-User header; the admin may). */
class ImpersonatingKubeConfig extends KubeConfig {
  constructor(readonly user: string) {
    super();
    this.loadFromFile(kubeconfigPath());
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    context.setHeaderParam('Impersonate-User', this.user);
  }
}

const INPUT_CONFIGMAP = 'input';
const RUNNER = 'runner';

/** The users and their rights in the test namespace; none may create pods. */
const USERS: Record<string, V1PolicyRule[]> = {
  // May read the job's input and act as the ServiceAccount "runner".
  reader: [
    { apiGroups: [GROUP], resources: [PLURAL], verbs: ['create'] },
    { apiGroups: [''], resources: ['configmaps'], resourceNames: [INPUT_CONFIGMAP], verbs: ['get'] },
    { apiGroups: [''], resources: ['serviceaccounts'], resourceNames: [RUNNER], verbs: ['impersonate'] },
  ],
  // May read the namespace's jobs and ConfigMaps: may re-run a job.
  rerunner: [
    { apiGroups: [GROUP], resources: [PLURAL], verbs: ['create', 'get'] },
    { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
  ],
  // May create and label jobs, nothing more.
  creator: [{ apiGroups: [GROUP], resources: [PLURAL], verbs: ['create', 'patch'] }],
  // May mint tokens for "runner" (as good as acting as it).
  minter: [
    { apiGroups: [GROUP], resources: [PLURAL], verbs: ['create'] },
    { apiGroups: [''], resources: ['serviceaccounts/token'], resourceNames: [RUNNER], verbs: ['create'] },
  ],
};
/** The kubeconfig's own user, a cluster admin: may do everything, so only the pod restrictions refuse it. */
const ADMIN = 'admin';

/** A job with inline items and a reduce phase whose pod specs get `map` and `reduce` merged in. */
function jobWith(name: string, map: Partial<V1PodSpec> = {}, reduce: Partial<V1PodSpec> = {}): MapReduceJob {
  const job = makeJob(name).items(['a']).reduce().obj();
  Object.assign(job.spec.map.template.spec!, map);
  Object.assign(job.spec.reduce!.template.spec!, reduce);
  return job;
}

function jobReadingInput(name: string): MapReduceJob {
  return makeJob(name).configMapInput(INPUT_CONFIGMAP, 'items').obj();
}

const AGENT = { name: 'agent', image: 'registry.example/agent:1' };
const PRIVILEGED = { name: 'root', image: 'registry.example/root:1', securityContext: { privileged: true } };
const HOST_PATH_VOLUME = { name: 'host', hostPath: { path: '/var/run' } };
const EMPTY_DIR_VOLUME = { name: 'scratch', emptyDir: {} };

interface AdmissionCase {
  name: string;
  user: string;
  job: MapReduceJob;
  /** The field error the policy answers with (given the namespace); undefined when the job is admitted. */
  refused?: string | ((namespace: string) => string);
  /** Create for real instead of as a dry run. */
  persist?: boolean;
}

const CASES: AdmissionCase[] = (() => {
  const cannotRead = (user: string) => (namespace: string) =>
    `spec.input.configMapRef.name: Forbidden: user "${user}" may not get ConfigMap "${INPUT_CONFIGMAP}" in namespace "${namespace}" (the operator reads the input with its own rights)`;
  const cannotUse = (field: string, user: string, sa: string) =>
    `${field}: Forbidden: user "${user}" may not use ServiceAccount "${sa}" (neither impersonate it nor create its tokens)`;
  const hostPath = (field: string) =>
    `${field}: Forbidden: hostPath volumes are not allowed in MapReduceJob pods`;
  const privileged = (field: string) =>
    `${field}: Forbidden: privileged containers are not allowed in MapReduceJob pods`;
  const hostNamespace = (field: string) =>
    `${field}: Forbidden: host namespaces are not allowed in MapReduceJob pods`;
  return [
    { name: 'input-read', user: 'reader', job: jobReadingInput('input-read'), persist: true },
    {
      name: 'input-unreadable',
      user: 'creator',
      job: jobReadingInput('input-unreadable'),
      refused: cannotRead('creator'),
    },
    { name: 'inline-items', user: 'creator', job: jobWith('inline-items') },
    { name: 'rerun-readable', user: 'rerunner', job: makeJob('rerun-readable').fromJob('earlier').obj() },
    {
      name: 'rerun-unreadable',
      user: 'reader',
      job: makeJob('rerun-unreadable').fromJob('earlier').obj(),
      refused: (namespace) =>
        `spec.input.fromJob.name: Forbidden: user "reader" may not get MapReduceJob "earlier" and the ConfigMaps of namespace "${namespace}" (the operator reads its items and results with its own rights)`,
    },
    {
      name: 'map-hostpath',
      user: 'creator',
      job: jobWith('map-hostpath', { volumes: [EMPTY_DIR_VOLUME, HOST_PATH_VOLUME] }),
      refused: hostPath('spec.map.template.spec.volumes[1].hostPath'),
    },
    {
      name: 'reduce-hostpath-by-admin',
      user: ADMIN,
      job: jobWith('reduce-hostpath-by-admin', {}, { volumes: [HOST_PATH_VOLUME] }),
      refused: hostPath('spec.reduce.template.spec.volumes[0].hostPath'),
    },
    { name: 'emptydir', user: 'creator', job: jobWith('emptydir', { volumes: [EMPTY_DIR_VOLUME] }) },
    {
      name: 'map-privileged',
      user: 'creator',
      job: jobWith('map-privileged', { containers: [AGENT, PRIVILEGED] }),
      refused: privileged('spec.map.template.spec.containers[1].securityContext.privileged'),
    },
    {
      name: 'reduce-privileged-init',
      user: 'reader',
      job: jobWith('reduce-privileged-init', {}, { initContainers: [PRIVILEGED] }),
      refused: privileged('spec.reduce.template.spec.initContainers[0].securityContext.privileged'),
    },
    {
      name: 'unprivileged',
      user: 'creator',
      job: jobWith('unprivileged', {
        containers: [{ ...AGENT, securityContext: { privileged: false, runAsNonRoot: true } }],
      }),
    },
    {
      name: 'map-host-network',
      user: 'creator',
      job: jobWith('map-host-network', { hostNetwork: true }),
      refused: hostNamespace('spec.map.template.spec.hostNetwork'),
    },
    {
      name: 'reduce-host-pid',
      user: 'creator',
      job: jobWith('reduce-host-pid', {}, { hostPID: true }),
      refused: hostNamespace('spec.reduce.template.spec.hostPID'),
    },
    {
      name: 'map-host-ipc',
      user: 'reader',
      job: jobWith('map-host-ipc', { hostIPC: true }),
      refused: hostNamespace('spec.map.template.spec.hostIPC'),
    },
    {
      name: 'host-network-false',
      user: 'creator',
      job: jobWith('host-network-false', { hostNetwork: false }),
    },
    {
      name: 'foreign-sa',
      user: 'creator',
      job: jobWith('foreign-sa', { serviceAccountName: RUNNER }),
      refused: cannotUse('spec.map.template.spec.serviceAccountName', 'creator', RUNNER),
    },
    {
      name: 'foreign-sa-deprecated-field',
      user: 'creator',
      job: jobWith('foreign-sa-deprecated-field', {}, { serviceAccount: RUNNER }),
      refused: cannotUse('spec.reduce.template.spec.serviceAccount', 'creator', RUNNER),
    },
    {
      name: 'sa-impersonable',
      user: 'reader',
      job: jobWith('sa-impersonable', { serviceAccountName: RUNNER }),
    },
    {
      name: 'sa-other-than-granted',
      user: 'reader',
      job: jobWith('sa-other-than-granted', {}, { serviceAccountName: 'deployer' }),
      refused: cannotUse('spec.reduce.template.spec.serviceAccountName', 'reader', 'deployer'),
    },
    {
      name: 'sa-token-mintable',
      user: 'minter',
      job: jobWith('sa-token-mintable', {}, { serviceAccountName: RUNNER }),
    },
    {
      name: 'sa-default',
      user: 'creator',
      job: jobWith('sa-default', { serviceAccountName: 'default' }),
    },
  ];
})();

type Outcome = { admitted: true } | { code: number | undefined; message: string };

async function create(user: string, namespace: string, tc: AdmissionCase): Promise<Outcome> {
  const kc = user === ADMIN ? cluster().kc : new ImpersonatingKubeConfig(user);
  try {
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      body: tc.job,
      ...(tc.persist ? {} : { dryRun: 'All' }),
    });
    return { admitted: true };
  } catch (err) {
    return { code: apiStatusCode(err), message: apiMessage(err) };
  }
}

describe('admission policy', function () {
  describe('rendered by the chart', function () {
    const MAP = 'spec.map.template.spec';
    const REDUCE = 'spec.reduce.template.spec';
    const perTemplate = (...fields: string[]) => [
      ...fields.map((f) => `${MAP}.${f}`),
      ...fields.map((f) => `${REDUCE}.${f}`),
    ];
    // Per pod template, in the order of the template: hostPath, privileged, host namespaces, ServiceAccount.
    const HOST_PATH = ['volumes'];
    const PRIVILEGED_LISTS = ['containers', 'initContainers', 'ephemeralContainers'];
    const HOST_NAMESPACES = ['hostNetwork', 'hostPID', 'hostIPC'];
    const SERVICE_ACCOUNT = ['serviceAccountName', 'serviceAccount'];
    const toggles: { set: string[]; fields: string[] }[] = [
      {
        set: [],
        fields: perTemplate(...HOST_PATH, ...PRIVILEGED_LISTS, ...HOST_NAMESPACES, ...SERVICE_ACCOUNT),
      },
      {
        set: ['admission.podTemplates.allowHostPath=true'],
        fields: perTemplate(...PRIVILEGED_LISTS, ...HOST_NAMESPACES, ...SERVICE_ACCOUNT),
      },
      {
        set: ['admission.podTemplates.allowPrivileged=true'],
        fields: perTemplate(...HOST_PATH, ...HOST_NAMESPACES, ...SERVICE_ACCOUNT),
      },
      {
        set: ['admission.podTemplates.allowHostNamespaces=true'],
        fields: perTemplate(...HOST_PATH, ...PRIVILEGED_LISTS, ...SERVICE_ACCOUNT),
      },
      {
        set: ['admission.podTemplates.allowAnyServiceAccount=true'],
        fields: perTemplate(...HOST_PATH, ...PRIVILEGED_LISTS, ...HOST_NAMESPACES),
      },
    ];
    for (const tc of toggles) {
      it(`checks the input ConfigMap and ${tc.fields.length} pod template fields with ${tc.set.join(' ') || 'the default values'}`, function () {
        const rendered = renderPolicy('mr', ...tc.set.flatMap((s) => ['--set', s]));
        expect(rendered.map((m) => `${m.kind} ${m.metadata.name}`)).to.deep.equal([
          'ValidatingAdmissionPolicy mr-mapreduce-operator',
          'ValidatingAdmissionPolicyBinding mr-mapreduce-operator',
        ]);
        expect(fieldsChecked(rendered)).to.deep.equal([
          'spec.input.configMapRef.name',
          'spec.input.fromJob.name',
          ...tc.fields,
        ]);
      });
    }

    it('renders no policy with admission.enabled=false', function () {
      const kinds = (
        loadAll(
          helm('template', 'mr', CHART, '--kube-version', KUBE_VERSION, '--set', 'admission.enabled=false'),
        ) as (Rendered | null)[]
      )
        .filter((m): m is Rendered => m !== null)
        .map((m) => m.kind);
      expect(kinds).to.include('Deployment');
      expect(kinds.filter((k) => k.startsWith('ValidatingAdmissionPolicy'))).to.deep.equal([]);
    });

    it('writes admission.podTemplates.serviceAccounts into the rule as a CEL list', function () {
      const rendered = renderPolicy('mr', '--set', 'admission.podTemplates.serviceAccounts={default,batch}');
      const policy = rendered[0] as unknown as V1ValidatingAdmissionPolicy;
      const rule = policy.spec!.validations!.find((v) => v.message?.startsWith(`${MAP}.serviceAccountName:`));
      expect(rule?.expression).to.include(`variables.mapPod.serviceAccountName in ["default","batch"]`);
    });

    it('refuses a ServiceAccount name that is not one, naming the value', function () {
      expect(
        renderError(
          '--kube-version',
          KUBE_VERSION,
          '--set',
          'admission.podTemplates.serviceAccounts={Not_A_Name}',
        ),
      ).to.include("at '/admission/podTemplates/serviceAccounts/0'");
    });

    it('refuses to render for Kubernetes before 1.30, which has no ValidatingAdmissionPolicy v1', function () {
      expect(renderError('--kube-version', '1.29.4')).to.include(
        'admission.enabled needs Kubernetes 1.30 or later (ValidatingAdmissionPolicy v1), not v1.29.4: upgrade, or set admission.enabled=false',
      );
      expect(renderError('--kube-version', '1.29.4', '--set', 'admission.enabled=false')).to.equal('');
    });
  });

  describe('on the local control plane', function () {
    const release = `adm-${randomBytes(3).toString('hex')}`;
    const policyName = `${release}-mapreduce-operator`;
    const admission = () => cluster().kc.makeApiClient(AdmissionregistrationV1Api);
    let namespace = '';

    before(async function () {
      namespace = await createTestNamespace('adm');
      const rbac = cluster().kc.makeApiClient(RbacAuthorizationV1Api);
      for (const [user, rules] of Object.entries(USERS)) {
        await rbac.createNamespacedRole({ namespace, body: { metadata: { name: user }, rules } });
        await rbac.createNamespacedRoleBinding({
          namespace,
          body: {
            metadata: { name: user },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: user },
            subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
          },
        });
      }

      // The chart renders the policy, then its binding (the render tests above check).
      const [policy, binding] = renderPolicy(release) as unknown as [
        V1ValidatingAdmissionPolicy,
        V1ValidatingAdmissionPolicyBinding,
      ];
      // As rendered, but bound to this test's namespace alone.
      binding.spec.matchResources = {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
      };
      await admission().createValidatingAdmissionPolicy({ body: policy });
      await admission().createValidatingAdmissionPolicyBinding({ body: binding });

      // The API server loads policies asynchronously: wait until one refuses what it should.
      const probe: AdmissionCase = { name: 'probe', user: 'creator', job: jobReadingInput('probe') };
      await waitFor(`policy ${policyName} to take effect`, async () => {
        const outcome = await create('creator', namespace, probe);
        return 'message' in outcome && outcome.message.includes(policyName);
      });
    });

    after(async function () {
      await admission()
        .deleteValidatingAdmissionPolicyBinding({ name: policyName })
        .catch(() => undefined);
      await admission()
        .deleteValidatingAdmissionPolicy({ name: policyName })
        .catch(() => undefined);
      if (namespace) await deleteTestNamespace(namespace);
    });

    it('type-checks without warnings', async function () {
      const policy = await waitFor('the policy’s type check', async () => {
        const p = await admission().readValidatingAdmissionPolicy({ name: policyName });
        return p.status?.observedGeneration === p.metadata?.generation ? p : undefined;
      });
      expect(policy.status?.typeChecking?.expressionWarnings ?? []).to.deep.equal([]);
    });

    for (const tc of CASES) {
      it(`${tc.refused ? 'refuses' : 'admits'} ${tc.name} by ${tc.user}`, async function () {
        const outcome = await create(tc.user, namespace, tc);
        if (!tc.refused) {
          expect(outcome).to.deep.equal({ admitted: true });
          return;
        }
        const fieldError = typeof tc.refused === 'function' ? tc.refused(namespace) : tc.refused;
        expect(outcome).to.deep.equal({
          code: 403,
          message: `mapreducejobs.mapreduce.dev "${tc.job.metadata.name}" is forbidden: ValidatingAdmissionPolicy '${policyName}' with binding '${policyName}' denied request: ${fieldError}`,
        });
      });
    }

    it('created the job the reader was admitted for', async function () {
      const job = (await cluster().custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        name: 'input-read',
      })) as MapReduceJob;
      expect(job.spec.input.configMapRef).to.deep.equal({ name: INPUT_CONFIGMAP, key: 'items' });
    });

    it('does not judge an update that keeps the input and templates (a label by a user who may not read the input)', async function () {
      await cluster().custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        body: jobReadingInput('labelled'),
      });
      const patched = (await new ImpersonatingKubeConfig('creator')
        .makeApiClient(CustomObjectsApi)
        .patchNamespacedCustomObject(
          {
            group: GROUP,
            version: VERSION,
            namespace,
            plural: PLURAL,
            name: 'labelled',
            body: { metadata: { labels: { team: 'a' } } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        )) as MapReduceJob;
      expect(patched.metadata.labels).to.deep.equal({ team: 'a' });
    });
  });
});
