// The child process that resolves one job's input (isolated.ts): it takes { input, text } from its parent,
// posts back the items or the error, and exits. Nothing else runs here, so a hostile input can only
// exhaust this process's heap or time, which the operator bounds.
import type { InputSpec } from '../api/types.js';
import { InputError, resolveItems } from './resolve.js';

export type ChildAnswer =
  | { ok: true; items: ReturnType<typeof resolveItems> }
  | { ok: false; inputError: boolean; reason: string; message: string };

process.once('message', (request: { input: InputSpec; text?: string }) => {
  let answer: ChildAnswer;
  try {
    answer = { ok: true, items: resolveItems(request.input, request.text) };
  } catch (err) {
    answer =
      err instanceof InputError
        ? { ok: false, inputError: true, reason: err.reason, message: err.message }
        : {
            ok: false,
            inputError: false,
            reason: '',
            message: err instanceof Error ? err.message : String(err),
          };
  }
  process.send!(answer, () => process.disconnect());
});
