// Replicas of the operator with leader election, kept running as a Deployment's kubelet would: a replica that
// exits, for whatever reason, is started again. Every process's end is recorded with its cause, so a test can
// tell the restarts it caused (a SIGKILL, a pause or an API server outage longer than the renew deadline) from
// any other.
import { cluster, sleep, waitFor } from './cluster.js';
import { spawnOperator, STARTED } from './operator.js';
import type { OperatorProcess } from './operator.js';

/** A kubelet restarts a crashed container after a back-off; short here, as the first one is (10 s) is not needed. */
const RESTART_DELAY_MS = 1_000;

/** One operator process, from start to end. */
export interface ReplicaRun {
  replica: number;
  op: OperatorProcess;
  startedAt: number;
  /** From its 'mapreduce-operator starting' log line. */
  identity(): string | undefined;
  endedAt?: number;
  exitCode?: number | null;
  signal?: NodeJS.Signals | null;
  /** Set by the test before it ends the process itself (e.g. 'SIGKILL 1 of 3'). */
  killedBy?: string;
  /** Its last log message before it ended (e.g. 'leadership lost: exiting'). */
  lastMessage?: string;
}

export class OperatorFleet {
  readonly runs: ReplicaRun[] = [];
  private readonly current: (ReplicaRun | undefined)[];
  private stopping = false;

  constructor(
    private readonly namespace: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
    replicas: number,
    private readonly leaseName: string,
  ) {
    this.current = Array.from({ length: replicas }, () => undefined);
  }

  /** Starts every replica; resolves once one of them leads (logged 'controller started'). */
  async start(): Promise<void> {
    for (let i = 0; i < this.current.length; i++) this.spawn(i);
    await this.leader();
  }

  /** The running replicas. */
  live(): ReplicaRun[] {
    return this.current.filter((r): r is ReplicaRun => r !== undefined && r.endedAt === undefined);
  }

  /** The replica holding the Lease and working, once there is one. */
  async leader(timeoutMs = 90_000): Promise<ReplicaRun> {
    return waitFor(
      'a replica to hold the lease and run its controller',
      async () => {
        const lease = await cluster().coordination.readNamespacedLease({
          namespace: this.namespace,
          name: this.leaseName,
        });
        const holder = lease.spec?.holderIdentity;
        return this.live().find((r) => r.identity() === holder && r.op.logs.some((l) => l.msg === STARTED));
      },
      timeoutMs,
    );
  }

  /** SIGKILLs one replica; the fleet starts it again. */
  async kill(run: ReplicaRun, cause: string): Promise<void> {
    run.killedBy = cause;
    await run.op.kill();
  }

  signalAll(signal: 'SIGSTOP' | 'SIGCONT'): void {
    for (const r of this.live()) r.op.proc.kill(signal);
  }

  /** Ends every replica (resumed first if paused) and stops restarting them. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.live().map(async (r) => {
        r.op.proc.kill('SIGCONT');
        r.killedBy ??= 'end of test';
        await r.op.kill();
      }),
    );
  }

  private spawn(replica: number): void {
    const op = spawnOperator(this.namespace, this.args, this.env);
    const run: ReplicaRun = {
      replica,
      op,
      startedAt: Date.now(),
      identity: () =>
        op.logs.find((l) => l.msg === 'mapreduce-operator starting')?.identity as string | undefined,
    };
    this.runs.push(run);
    this.current[replica] = run;
    op.proc.once('exit', (code, signal) => {
      run.endedAt = Date.now();
      run.exitCode = code;
      run.signal = signal;
      run.lastMessage = op.logs.at(-1)?.msg as string | undefined;
      if (this.stopping) return;
      void sleep(RESTART_DELAY_MS).then(() => {
        if (!this.stopping) this.spawn(replica);
      });
    });
  }
}
