// Reads a job's input source and resolves its items. The only I/O is reading the ConfigMap; the
// resolution itself is the pure resolveItems.
import type { MapReduceJob } from '../api/types.js';
import { isNotFound } from '../apierrors.js';
import { InputError, resolveItems } from '../input/resolve.js';
import type { ResolvedItem } from '../input/resolve.js';
import type { CoreClient } from './clients.js';

export async function loadInput(
  core: Pick<CoreClient, 'readNamespacedConfigMap'>,
  job: MapReduceJob,
): Promise<ResolvedItem[]> {
  const input = job.spec.input;
  const ref = input.configMapRef;
  if (!ref) return resolveItems(input);
  const namespace = job.metadata.namespace!;
  let data: Record<string, string> | undefined;
  try {
    const cm = await core.readNamespacedConfigMap({ namespace, name: ref.name });
    data = cm.data;
  } catch (err) {
    if (isNotFound(err)) {
      throw new InputError(
        'InputNotFound',
        `spec.input.configMapRef: ConfigMap ${namespace}/${ref.name} not found`,
      );
    }
    throw err;
  }
  const text = data?.[ref.key];
  if (text === undefined) {
    throw new InputError(
      'InputNotFound',
      `spec.input.configMapRef: ConfigMap ${namespace}/${ref.name} has no key "${ref.key}"`,
    );
  }
  return resolveItems(input, text);
}
