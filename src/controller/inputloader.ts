// Reads a job's input source and resolves its items. The only I/O is reading the ConfigMap; resolution is
// the pure resolveItems, run by the resolver the controller is given (a bounded child process in the
// operator, src/input/isolated.ts; in process in unit tests).
import type { MapReduceJob } from '../api/types.js';
import { isNotFound } from '../apierrors.js';
import type { InputResolver } from '../input/isolated.js';
import { InputError, resolveItems } from '../input/resolve.js';
import type { ResolvedItem } from '../input/resolve.js';
import type { CoreClient } from './clients.js';

/** Resolution on this thread: whatever it throws is about the input, so a job fails with it. */
export const resolveInProcess: InputResolver = (input, text) => {
  try {
    return Promise.resolve(resolveItems(input, text));
  } catch (err) {
    if (err instanceof InputError) return Promise.reject(err);
    return Promise.reject(
      new InputError(
        'InputInvalid',
        `spec.input: the items could not be resolved: ${err instanceof Error ? err.message : String(err)}`,
      ),
    );
  }
};

export async function loadInput(
  core: Pick<CoreClient, 'readNamespacedConfigMap'>,
  job: MapReduceJob,
  resolve: InputResolver = resolveInProcess,
): Promise<ResolvedItem[]> {
  const input = job.spec.input;
  const ref = input.configMapRef;
  if (!ref) return resolve(input);
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
  return resolve(input, text);
}
