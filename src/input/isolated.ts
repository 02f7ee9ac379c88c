// Resolves a job's input in a child process with a heap limit and a deadline. Resolution runs user-written
// JSONPath (filter expressions may call string methods and regular expressions, even in jsonpath-plus's
// safe mode) over a user-written document: on the operator's own thread one catastrophic regex or a
// runaway allocation would stop every job, the lease renewals and /healthz, or abort the process. In a
// child it costs that job alone: it fails with InputInvalid, naming the limit. (A worker thread is not
// enough: V8 aborts the whole process when one large allocation fails in a worker at its heap limit.)
import { fork } from 'node:child_process';
import type { InputSpec } from '../api/types.js';
import { checkInlineItems, InputError } from './resolve.js';
import type { ResolvedItem } from './resolve.js';
import type { ChildAnswer } from './resolvechild.js';

/** A ConfigMap input is at most 1 MiB: resolving 100,000 items from one takes well under a second. */
export const RESOLVE_TIMEOUT_MS = 10_000;
/**
 * Heap for one resolution: room for the largest input the limits let through (MAX_INPUT_BYTES of JSON),
 * and half the chart's 512 MiB memory limit, so a hostile input cannot take the operator's pod with it.
 */
export const RESOLVE_HEAP_MB = 256;

const OUT_OF_MEMORY_SIGNALS = new Set<string>(['SIGTRAP', 'SIGABRT']);

export interface ResolveLimits {
  timeoutMs: number;
  heapMb: number;
}

export type InputResolver = (input: InputSpec, text?: string) => Promise<ResolvedItem[]>;

// Under tsx (the tests) this module is TypeScript, and so is its child.
const CHILD_URL = new URL(
  import.meta.url.endsWith('.ts') ? './resolvechild.ts' : './resolvechild.js',
  import.meta.url,
);

/** Resolves in a fresh child process, bounded by `limits`. */
export function resolveInChild(
  input: InputSpec,
  text: string | undefined,
  limits: ResolveLimits = { timeoutMs: RESOLVE_TIMEOUT_MS, heapMb: RESOLVE_HEAP_MB },
): Promise<ResolvedItem[]> {
  try {
    if (input.items !== undefined) checkInlineItems(input.items);
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  return new Promise((resolve, reject) => {
    const child = fork(CHILD_URL, {
      execArgv: [...process.execArgv, `--max-old-space-size=${limits.heapMb}`],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'], // a hostile input's output goes nowhere
    });
    let settled = false;
    const settle = (action: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      action();
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () =>
        settle(() =>
          reject(
            new InputError(
              'InputInvalid',
              `spec.input: resolving the items took longer than ${limits.timeoutMs / 1000} s (a JSONPath that does too much?)`,
            ),
          ),
        ),
      limits.timeoutMs,
    );
    child.once('message', (answer: ChildAnswer) =>
      settle(() => {
        if (answer.ok) resolve(answer.items);
        else if (answer.inputError)
          reject(new InputError(answer.reason as InputError['reason'], answer.message));
        else
          reject(
            new InputError('InputInvalid', `spec.input: the items could not be resolved: ${answer.message}`),
          );
      }),
    );
    child.once('error', (err) => settle(() => reject(err))); // could not start: not about the input, retried
    // 'close', not 'exit': 'exit' may come before the IPC channel has handed over the child's last message
    // (a child that answered and exited 0 was taken for one that died).
    child.once('close', (code, signal) =>
      settle(() =>
        reject(
          // V8 stops the process (SIGTRAP or SIGABRT, exit 133 or 134) when the heap limit is reached.
          (signal !== null && OUT_OF_MEMORY_SIGNALS.has(signal)) || code === 133 || code === 134
            ? new InputError(
                'InputInvalid',
                `spec.input: resolving the items needed more than ${limits.heapMb} MiB (a JSONPath or YAML aliases that expand too far?)`,
              )
            : new Error(`the input resolver process exited (${signal ?? code}) before answering`),
        ),
      ),
    );
    child.send({ input, text });
  });
}
