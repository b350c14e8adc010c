// DefaultPreemption (the PostFilter step): when a pod fits no node, find a node where removing
// lower-priority pods would make it fit, with as few and as unimportant victims as possible.
// Per candidate node: take away every lower-priority pod, check the pod fits, then give back
// ("reprieve") victims from the most important down while it still fits. Among nodes, the one
// whose most important victim is least important wins, then the smallest priority sum, then
// the fewest victims. Everything is simulated on the scheduler cache and restored.
import type { NodeInfo, PodInfo, SchedulerCache } from "./cache";
import { filter, prepare, type VolumeInfo } from "./framework";

export interface PreemptionPlan {
  node: string;
  victims: PodInfo[];
}

const prio = (p: any) => p?.spec?.priority ?? 0;
const started = (p: any) => Date.parse(p?.status?.startTime ?? p?.metadata?.creationTimestamp ?? "") || 0;

/** Does a victim of `pod` still lie on its nominated node, terminating? Then wait for it rather than preempt more. */
export function waitingForVictims(cache: SchedulerCache, pod: any): boolean {
  const nominated = pod.status?.nominatedNodeName;
  if (!nominated) return false;
  const n = cache.nodeList().find((x) => x.name === nominated);
  if (!n) return false;
  for (const p of n.pods.values()) if (p.pod?.metadata?.deletionTimestamp && prio(p.pod) < prio(pod)) return true;
  return false;
}

export function findPreemption(cache: SchedulerCache, pod: any, pi: PodInfo, vol: VolumeInfo, candidates: NodeInfo[]): PreemptionPlan | undefined {
  const mine = prio(pod);
  let best: { node: string; victims: PodInfo[]; top: number; sum: number } | undefined;
  for (const n of candidates) {
    const lower = [...n.pods.values()].filter((p) => prio(p.pod) < mine && !p.pod?.metadata?.deletionTimestamp);
    if (!lower.length) continue;
    const fits = () => !filter(prepare(cache, pod, pi, vol), n);
    const removed: PodInfo[] = [];
    try {
      for (const p of lower) if (cache.removePod(p.key)) removed.push(p);
      if (!fits()) continue;
      // Reprieve the most important (then the longest running) first.
      const order = [...removed].sort((a, b) => prio(b.pod) - prio(a.pod) || started(a.pod) - started(b.pod));
      const victims: PodInfo[] = [];
      for (const p of order) {
        cache.addPod(p);
        if (!fits()) {
          cache.removePod(p.key);
          victims.push(p);
        }
      }
      const top = Math.max(...victims.map((v) => prio(v.pod)));
      const sum = victims.reduce((s, v) => s + prio(v.pod), 0);
      if (!best || top < best.top || (top === best.top && (sum < best.sum || (sum === best.sum && victims.length < best.victims.length)))) best = { node: n.name, victims, top, sum };
    } finally {
      for (const p of removed) if (!cache.pods.has(p.key)) cache.addPod(p);
    }
  }
  return best && { node: best.node, victims: best.victims };
}
