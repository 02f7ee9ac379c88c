// Runs the operator as a real child process against the test cluster, so tests can SIGKILL and
// restart it like a crashing pod.
import { appendFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { kubeconfigPath, REPO_ROOT, waitFor, WaitAborted } from './cluster.js';
import { PodWatcher } from './jobs.js';

export interface OperatorProcess {
  proc: ChildProcess;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  /** Everything written so far, as written: stdout (the JSON logs) and stderr. */
  output(): { stdout: string; stderr: string };
  /** Sends SIGKILL and waits for the process to be gone. */
  kill(): Promise<void>;
  /** Sends SIGTERM and waits for a graceful exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Resolves with the exit code when the process exits by itself. */
  exited: Promise<number | null>;
}

/** Test defaults: fast retries so failure tests take seconds, not the production 10 s backoff. */
export const TEST_OPERATOR_FLAGS = [
  '--retry-backoff-base=200ms',
  '--retry-backoff-max=2s',
  '--health-port=0',
  '--metrics-port=0', // several operators run at once; metrics tests give a free port
];

/** Log message that says the operator is up; a standby replica says 'waiting to become leader'. */
export const STARTED = 'controller started';

export async function startOperator(
  namespace: string,
  extraArgs: string[] = [],
  readyMessage = STARTED,
  env: Record<string, string> = {},
): Promise<OperatorProcess> {
  const op = spawnOperator(namespace, extraArgs, env);
  await waitFor(
    `the operator to log "${readyMessage}"`,
    () => {
      if (op.proc.exitCode !== null)
        throw new WaitAborted(`operator exited with ${op.proc.exitCode}: ${op.output().stderr}`);
      return Promise.resolve(op.logs.some((l) => l.msg === readyMessage));
    },
    30_000,
  );
  return op;
}

/** Starts the operator and returns at once, without waiting for it to be up (a supervisor restarting it does). */
export function spawnOperator(
  namespace: string,
  extraArgs: string[] = [],
  env: Record<string, string> = {},
): OperatorProcess {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'src', 'main.ts'),
      `--kubeconfig=${kubeconfigPath()}`,
      `--namespace=${namespace}`,
      ...TEST_OPERATOR_FLAGS,
      ...extraArgs,
    ],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: process.env.TEST_OPERATOR_LOG_LEVEL ?? 'info', ...env },
    },
  );
  const logs: Record<string, unknown>[] = [];
  let buffer = '';
  let stdout = '';
  // TEST_OPERATOR_LOG_DIR keeps each operator's stdout (its JSON log) in a file of its own, for a failure's post-mortem.
  const logDir = process.env.TEST_OPERATOR_LOG_DIR;
  const logFile = logDir ? path.join(logDir, `operator-${namespace}-${proc.pid}.log`) : undefined;
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    if (logFile) appendFileSync(logFile, chunk);
    stdout += chunk;
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line });
      }
    }
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (process.env.TEST_OPERATOR_STDERR) process.stderr.write(chunk);
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    logs,
    output: () => ({ stdout, stderr }),
    exited,
    async kill() {
      proc.kill('SIGKILL');
      await exited;
    },
    async stop() {
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

export interface WatchedOperator {
  /** The operator of the current test. */
  operator: OperatorProcess;
  /** Every pod the namespace saw during the test (duplicates, peak activity). */
  watcher: PodWatcher;
  /** SIGKILLs the operator and starts a new one, as a crash and its restart. */
  restart(): Promise<void>;
}

/**
 * For each test: a PodWatcher on the namespace and an operator for it; afterwards both are stopped (a paused
 * operator resumed first, so it can be killed).
 */
export function useWatchedOperator(ns: { readonly name: string }): WatchedOperator {
  let current: OperatorProcess | undefined;
  let watcher: PodWatcher | undefined;
  beforeEach(async function () {
    watcher = new PodWatcher();
    await watcher.start(ns.name);
    current = await startOperator(ns.name);
  });
  afterEach(async function () {
    watcher?.stop();
    current?.proc.kill('SIGCONT');
    await current?.kill();
    current = undefined;
  });
  return {
    get operator() {
      return current!;
    },
    get watcher() {
      return watcher!;
    },
    async restart() {
      await current?.kill();
      current = await startOperator(ns.name);
    },
  };
}
