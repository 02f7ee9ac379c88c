// The real node of the local cluster (hack/realnode.sh): a kubelet with containerd and runc beside kwok's
// simulated nodes. Tests of what only a real kubelet does run their pods there.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { V1Container, V1PodSpec, V1PodTemplateSpec } from '@kubernetes/client-node';
import { cluster, REPO_ROOT, usingLocalControlPlane } from './cluster.js';

/** Label and NoSchedule taint (both "true") of the real node: only pods that ask land there. */
export const REAL_NODE_LABEL = 'mapreduce.dev/real-node';

export interface RealNode {
  name: string;
  /** The images hack/realnode.sh built and imported, by their repository (busybox, pause, node). */
  images: { busybox: string; node: string };
}

/** Why the local machine can't run the real node (hack/realnode.sh check), or undefined when it can. */
function machineCannot(): string | undefined {
  try {
    execFileSync('bash', [path.join(REPO_ROOT, 'hack', 'realnode.sh'), 'check'], { encoding: 'utf8' });
    return undefined;
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err).trim();
  }
}

/**
 * The cluster's Ready real node; skips the calling test's suite when the cluster has none because the machine
 * can't run one (the reason is printed), and fails when the machine can but the node is missing.
 */
export async function realNodeOrSkip(ctx: Mocha.Context): Promise<RealNode> {
  const nodes = await cluster().core.listNode({ labelSelector: `${REAL_NODE_LABEL}=true` });
  const node = nodes.items.find((n) =>
    n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  );
  if (!node) {
    const why = usingLocalControlPlane() ? machineCannot() : 'TEST_KUBECONFIG names another cluster';
    if (why === undefined)
      throw new Error(
        'this machine can run the real node (hack/realnode.sh check) but the cluster has none Ready',
      );
    process.stderr.write(`      skipped: no real node: ${why}\n`);
    ctx.skip();
  }
  const names = (node.status?.images ?? []).flatMap((i) => i.names ?? []);
  const image = (repo: string): string => {
    const found = names.find((n) => n.startsWith(`mapreduce.local/${repo}:`));
    if (!found)
      throw new Error(`the real node has no mapreduce.local/${repo} image (hack/realnode/images.sh)`);
    return found;
  };
  return { name: node.metadata!.name!, images: { busybox: image('busybox'), node: image('node') } };
}

/** A pod template for the real node: its selector and toleration, local images only, these containers. */
export function realNodeTemplate(
  containers: V1Container[],
  spec: Partial<V1PodSpec> = {},
): V1PodTemplateSpec {
  return {
    spec: {
      nodeSelector: { [REAL_NODE_LABEL]: 'true' },
      tolerations: [{ key: REAL_NODE_LABEL, operator: 'Equal', value: 'true', effect: 'NoSchedule' }],
      ...spec,
      containers: containers.map((c) => ({ imagePullPolicy: 'Never', ...c })),
    },
  };
}
