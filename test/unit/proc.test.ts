// The bench's per-process CPU over a run's cycle (bench/proc.ts): two readings of the control plane's
// processes differenced, the idle rate taken off, and the result per pod.
import { expect } from 'chai';
import { aboveIdle, controlPlaneCpuBetween, cycleCpuPerPodMs } from '../../bench/proc.js';
import type { ComponentCpu, ControlPlaneReading, CyclePerPodMs } from '../../bench/proc.js';

/** A reading where every process has pid 100 + its position and the CPU seconds given. */
function reading(
  cpu: ComponentCpu,
  pidOverride: Partial<Record<keyof ComponentCpu, number>> = {},
): ControlPlaneReading {
  const pids = {
    'kube-apiserver': 100,
    etcd: 101,
    'kube-scheduler': 102,
    'kube-controller-manager': 103,
    kwok: 104,
    ...pidOverride,
  };
  return { pids, cpu };
}

const cpu = (
  apiserver: number,
  etcd: number,
  scheduler: number,
  kcm: number,
  kwok: number,
): ComponentCpu => ({
  'kube-apiserver': apiserver,
  etcd,
  'kube-scheduler': scheduler,
  'kube-controller-manager': kcm,
  kwok,
});

describe('bench control-plane CPU', () => {
  const between: {
    name: string;
    before: ControlPlaneReading | undefined;
    after: ControlPlaneReading | undefined;
    want: ComponentCpu | undefined;
  }[] = [
    {
      name: 'differences each process',
      before: reading(cpu(10, 5, 1, 2, 3)),
      after: reading(cpu(60, 13, 5.5, 7, 17)),
      want: cpu(50, 8, 4.5, 5, 14),
    },
    {
      name: 'is undefined when a process was restarted between the readings (its count started again)',
      before: reading(cpu(10, 5, 1, 2, 3)),
      after: reading(cpu(60, 13, 5.5, 0.5, 17), { 'kube-controller-manager': 200 }),
      want: undefined,
    },
    {
      name: 'is undefined without the reading before',
      before: undefined,
      after: reading(cpu(1, 1, 1, 1, 1)),
      want: undefined,
    },
    {
      name: 'is undefined without the reading after',
      before: reading(cpu(1, 1, 1, 1, 1)),
      after: undefined,
      want: undefined,
    },
  ];
  for (const c of between)
    it(`between two readings: ${c.name}`, () => {
      expect(controlPlaneCpuBetween(c.before, c.after)).to.deep.equal(c.want);
    });

  it('takes off each process its idle rate times the seconds', () => {
    expect(aboveIdle(cpu(50, 8, 4.5, 5, 14), cpu(0.5, 0.25, 0, 0.5, 1), 10)).to.deep.equal(
      cpu(45, 5.5, 4.5, 0, 4),
    );
  });

  const perPod: {
    name: string;
    controlPlane: ComponentCpu;
    controllerCpu: number | undefined;
    pods: number;
    want: CyclePerPodMs;
  }[] = [
    {
      name: "by process, the operator's, and their sum",
      controlPlane: cpu(50, 8, 4, 5, 14),
      controllerCpu: 10,
      pods: 1000,
      want: {
        'kube-apiserver': 50,
        etcd: 8,
        'kube-scheduler': 4,
        'kube-controller-manager': 5,
        kwok: 14,
        operator: 10,
        all: 91,
      },
    },
    {
      name: 'the control plane alone when the controller is one of its processes (the Indexed Job)',
      controlPlane: cpu(40, 10, 4, 7, 14),
      controllerCpu: undefined,
      pods: 500,
      want: {
        'kube-apiserver': 80,
        etcd: 20,
        'kube-scheduler': 8,
        'kube-controller-manager': 14,
        kwok: 28,
        all: 150,
      },
    },
  ];
  for (const c of perPod)
    it(`per pod: ${c.name}`, () => {
      expect(cycleCpuPerPodMs(c.controlPlane, c.controllerCpu, c.pods)).to.deep.equal(c.want);
    });

  it('refuses a per-pod figure over no pod', () => {
    expect(() => cycleCpuPerPodMs(cpu(1, 1, 1, 1, 1), 1, 0)).to.throw(RangeError, 'CPU per pod over 0 pods');
  });
});
