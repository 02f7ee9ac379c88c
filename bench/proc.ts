// A process's memory and CPU as the kernel counts them (/proc), for the bench's runs of the operator.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../test/support/cluster.js';

const CLOCK_TICKS_PER_SECOND =
  Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** Resident set size now and its high-water mark (VmRSS, VmHWM), in MiB. */
export function procStatus(pid: number): { rssMb: number; hwmMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

/** The resident set's high-water mark (VmHWM), in MiB. */
export function peakRssMb(pid: number): number {
  return procStatus(pid).hwmMb;
}

/** User + system CPU seconds of the process, all its threads (fields 14 and 15 of /proc/PID/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after comm, which may hold spaces
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Where hack/cluster-up.sh keeps the local control plane's pid files (hack/lib.sh's CLUSTER_RUN_DIR). */
const CLUSTER_RUN_DIR = path.join(
  process.env.MAPREDUCE_CLUSTER_DIR ?? path.join(REPO_ROOT, '.cluster'),
  'run',
);

/** The pid of a local control-plane component (kube-controller-manager, ...); undefined off the local cluster. */
export function componentPid(name: string): number | undefined {
  const file = path.join(CLUSTER_RUN_DIR, `${name}.pid`);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return existsSync(`/proc/${pid}/stat`) ? pid : undefined;
}
