// Where a wave's time goes: every pod's life as a watch shows it, stamped with the local time each stage was first
// seen (the API server's own timestamps have one-second resolution). Between a pod's creation and the next pod
// of its slot lie the scheduler (pending -> scheduled), kwok's stages (scheduled -> initialized -> running, the
// last with the stage's 100 ms start delay), the pod's own run (running -> finished, its duration plus kwok's
// lag), and the controller's turnaround: from a pod's end until it creates the next one.
import { CoreV1Api, Watch } from '@kubernetes/client-node';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';

/** A pod's stages, in order: seen unscheduled, bound to a node, given an IP by kwok, running, finished, gone. */
export const STAGES = ['pending', 'scheduled', 'initialized', 'running', 'finished', 'gone'] as const;
export type Stage = (typeof STAGES)[number];

export interface StageGap {
  from: Stage;
  to: Stage;
  /** Pods seen at both stages. */
  pods: number;
  medianMs: number;
  meanMs: number;
}

export interface TimelineSummary {
  pods: number;
  /** Between each stage and the next, over the pods seen at both. */
  stages: StageGap[];
  /**
   * The controller's turnaround at this parallelism P: the k-th pod created (in time order) against the
   * (k-P)-th pod finished, for every k >= P. With P pods live at a time, that is how long a slot stood empty.
   */
  turnaround: { pods: number; medianMs: number; meanMs: number; p99Ms: number; maxMs: number };
}

/** The stage a pod's state shows. */
export function stageOf(type: string, pod: V1Pod): Stage {
  if (type === 'DELETED') return 'gone';
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return 'finished';
  if (phase === 'Running') return 'running';
  if (pod.status?.podIP) return 'initialized';
  if (pod.spec?.nodeName) return 'scheduled';
  return 'pending';
}

const median = (sorted: number[]): number => sorted[Math.floor(sorted.length / 2)] ?? NaN;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The summary of pods' first-seen times by stage (pure: unit-tested). */
export function summarize(
  seen: ReadonlyMap<string, Partial<Record<Stage, number>>>,
  parallelism: number,
): TimelineSummary {
  // Only pods created while it watched: an older one (a run before, still going) is first seen at a later stage.
  const pods = [...seen.values()].filter((p) => p.pending !== undefined);
  const stages: StageGap[] = [];
  for (let i = 1; i < STAGES.length; i++) {
    const from = STAGES[i - 1]!;
    const to = STAGES[i]!;
    const gaps = pods
      .filter((p) => p[from] !== undefined && p[to] !== undefined)
      .map((p) => p[to]! - p[from]!)
      .sort((a, b) => a - b);
    stages.push({ from, to, pods: gaps.length, medianMs: median(gaps), meanMs: mean(gaps) });
  }
  const created = pods
    .map((p) => p.pending ?? p.scheduled)
    .filter((t) => t !== undefined)
    .sort((a, b) => a - b);
  const finished = pods
    .map((p) => p.finished)
    .filter((t) => t !== undefined)
    .sort((a, b) => a - b);
  const turn: number[] = [];
  for (let k = parallelism; k < created.length && k - parallelism < finished.length; k++)
    turn.push(created[k]! - finished[k - parallelism]!);
  turn.sort((a, b) => a - b);
  return {
    pods: pods.length,
    stages,
    turnaround: {
      pods: turn.length,
      medianMs: median(turn),
      meanMs: mean(turn),
      p99Ms: turn[Math.floor(turn.length * 0.99)] ?? NaN,
      maxMs: turn[turn.length - 1] ?? NaN,
    },
  };
}

/** Watches every pod of the cluster (the bench runs one workload at a time) until stopped. */
export class PodTimeline {
  private readonly seen = new Map<string, Partial<Record<Stage, number>>>();
  private request?: { abort(): void };

  static async start(kc: KubeConfig): Promise<PodTimeline> {
    const t = new PodTimeline();
    // From the list's version: the pods there already are not announced as added.
    const list = await kc.makeApiClient(CoreV1Api).listPodForAllNamespaces({ limit: 1 });
    t.request = await new Watch(kc).watch(
      '/api/v1/pods',
      { resourceVersion: list.metadata?.resourceVersion },
      (type: string, pod: V1Pod) => t.record(type, pod, performance.now()),
      () => undefined, // a watch ended early leaves fewer pods in the summary, which says how many
    );
    return t;
  }

  record(type: string, pod: V1Pod, atMs: number): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    let stages = this.seen.get(uid);
    if (!stages) this.seen.set(uid, (stages = {}));
    stages[stageOf(type, pod)] ??= atMs;
  }

  stop(parallelism: number): TimelineSummary {
    this.request?.abort();
    return summarize(this.seen, parallelism);
  }
}

/** One line per gap, for the bench's table. */
export function timelineText(name: string, s: TimelineSummary): string[] {
  const ms = (x: number): string => `${Math.round(x)}`;
  return [
    `${name}: ${s.pods} pods; median (mean) ms between stages:`,
    `  ${s.stages.map((g) => `${g.from}->${g.to} ${ms(g.medianMs)} (${ms(g.meanMs)})`).join(', ')}`,
    `  a slot empty, from a pod's end to the next pod: median ${ms(s.turnaround.medianMs)}, mean ${ms(s.turnaround.meanMs)}, p99 ${ms(s.turnaround.p99Ms)}, max ${ms(s.turnaround.maxMs)}`,
  ];
}
