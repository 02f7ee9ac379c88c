// A process's memory and CPU as the kernel counts them (/proc), for the bench's runs of the operator.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, usingLocalControlPlane } from '../test/support/cluster.js';

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

/**
 * The local control plane's processes (hack/cluster-up.sh): besides the operator, what a run's pods cost. On
 * this 2-core machine they share the cores with the operator, so their sum sets how many pods a second fit.
 */
export const CONTROL_PLANE = [
  'kube-apiserver',
  'etcd',
  'kube-scheduler',
  'kube-controller-manager',
  'kwok',
] as const;
export type ControlPlaneComponent = (typeof CONTROL_PLANE)[number];
export type ComponentCpu = Record<ControlPlaneComponent, number>;

/** Each control-plane process's pid and CPU seconds at one moment. */
export interface ControlPlaneReading {
  pids: Record<ControlPlaneComponent, number>;
  cpu: ComponentCpu;
}

/**
 * Every control-plane process's CPU now; undefined off the local control plane (the bench pointed at another
 * cluster, or a pid file missing).
 */
export function readControlPlaneCpu(): ControlPlaneReading | undefined {
  if (!usingLocalControlPlane()) return undefined;
  const pids: Partial<Record<ControlPlaneComponent, number>> = {};
  const cpu: Partial<ComponentCpu> = {};
  for (const name of CONTROL_PLANE) {
    const pid = componentPid(name);
    if (pid === undefined) return undefined;
    pids[name] = pid;
    cpu[name] = cpuSeconds(pid);
  }
  return { pids: pids as Record<ControlPlaneComponent, number>, cpu: cpu as ComponentCpu };
}

/**
 * The CPU seconds each process spent between two readings (pure). Undefined if either is missing or a process
 * was restarted between them (another pid: its count started again).
 */
export function controlPlaneCpuBetween(
  before: ControlPlaneReading | undefined,
  after: ControlPlaneReading | undefined,
): ComponentCpu | undefined {
  if (!before || !after) return undefined;
  if (CONTROL_PLANE.some((name) => before.pids[name] !== after.pids[name])) return undefined;
  return Object.fromEntries(
    CONTROL_PLANE.map((name) => [name, after.cpu[name] - before.cpu[name]]),
  ) as ComponentCpu;
}

/**
 * CPU seconds above the processes' idle rate (pure): each process's count less what it spends with nothing of
 * the bench's running (CPU seconds per second, read just before) over the cycle's seconds, so a longer cycle is
 * not charged for node heartbeats, leases and resyncs that would have run anyway.
 */
export function aboveIdle(cpu: ComponentCpu, idlePerSecond: ComponentCpu, seconds: number): ComponentCpu {
  return Object.fromEntries(
    CONTROL_PLANE.map((name) => [name, cpu[name] - idlePerSecond[name] * seconds]),
  ) as ComponentCpu;
}

/** A cycle's CPU per pod in milliseconds: each control-plane process, the operator's if it ran, their sum. */
export type CyclePerPodMs = Record<ControlPlaneComponent, number> & { operator?: number; all: number };

/**
 * A cycle's CPU per pod in milliseconds (pure): each control-plane process, the controller that ran the pods
 * (the operator, outside the control plane; undefined for the Indexed Job, whose controller is
 * kube-controller-manager's), and `all`, their sum.
 */
export function cycleCpuPerPodMs(
  controlPlane: ComponentCpu,
  controllerCpu: number | undefined,
  pods: number,
): CyclePerPodMs {
  if (!(pods > 0)) throw new RangeError(`CPU per pod over ${pods} pods`);
  const ms = (seconds: number): number => (seconds * 1000) / pods;
  const parts = CONTROL_PLANE.map((name) => [name, ms(controlPlane[name])] as const);
  const operator = controllerCpu === undefined ? undefined : ms(controllerCpu);
  return {
    ...(Object.fromEntries(parts) as Record<ControlPlaneComponent, number>),
    ...(operator === undefined ? {} : { operator }),
    all: parts.reduce((sum, [, v]) => sum + v, 0) + (operator ?? 0),
  };
}
