// DefaultPreemption (the PostFilter step): when a pod fits no node, find a node where removing
// lower-priority pods would make it fit, with as few and as unimportant victims as possible.
// Per candidate node: take away every lower-priority pod, check the pod fits, then give back
// ("reprieve") victims from the most important down while it still fits, those protected by a
// PodDisruptionBudget first. Among nodes: fewest budget violations, then the least important
// most important victim, the smallest priority sum, the fewest victims, the youngest victims
// (upstream's SelectVictimsOnNode / pickOneNodeForPreemption). Everything is simulated on the
// scheduler cache and restored.
import type { NodeInfo, PodInfo, SchedulerCache } from "./cache";
import { labelSelectorMatches } from "../../schemas/helpers/selectors";
import { filter, prepare, type VolumeInfo } from "./framework";

export interface PreemptionPlan {
  node: string;
  victims: PodInfo[];
  /** How many victims' deletion breaks a PodDisruptionBudget (preemption does not wait for budgets). */
  pdbViolations: number;
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

/**
 * Split victims (most important first) into those whose deletion would break a
 * PodDisruptionBudget and the others, keeping their order. Each budget's disruptionsAllowed is
 * used up as matching victims are counted; a pod the budget already lists in disruptedPods was
 * counted by the API server and breaks nothing. A budget with an absent or empty selector
 * matches nothing here (the scheduler's rule).
 */
export function splitByPdbViolation(victims: PodInfo[], pdbs: any[]): { violating: PodInfo[]; ok: PodInfo[] } {
  const allowed = pdbs.map((b) => Number(b?.status?.disruptionsAllowed ?? 0));
  const violating: PodInfo[] = [], ok: PodInfo[] = [];
  for (const v of victims) {
    const md = v.pod?.metadata ?? {};
    let breaks = false;
    if (md.labels && Object.keys(md.labels).length) {
      for (let i = 0; i < pdbs.length; i++) {
        const b = pdbs[i];
        if (b?.metadata?.namespace !== md.namespace) continue;
        const sel = b.spec?.selector;
        if (!sel || (!Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length)) continue;
        if (!labelSelectorMatches(sel, md.labels)) continue;
        if (b.status?.disruptedPods && md.name in b.status.disruptedPods) continue;
        if (allowed[i]! <= 0) {
          breaks = true;
          break;
        }
        allowed[i]!--;
      }
    }
    (breaks ? violating : ok).push(v);
  }
  return { violating, ok };
}

interface Candidate {
  node: string;
  victims: PodInfo[];
  pdbViolations: number;
}

/**
 * Upstream's pickOneNodeForPreemption order: fewest PDB violations, then the least important
 * most important victim, then the smallest priority sum, then the fewest victims, then the node
 * whose earliest-started most important victim started last (disturb the youngest work).
 */
export function pickCandidate(cands: Candidate[]): Candidate | undefined {
  const top = (c: Candidate) => (c.victims.length ? Math.max(...c.victims.map((v) => prio(v.pod))) : -Infinity);
  // Shift each priority by 2^31 so negative priorities still add up to more victims = larger sum.
  const sum = (c: Candidate) => c.victims.reduce((s, v) => s + prio(v.pod) + 2 ** 31, 0);
  const earliestTop = (c: Candidate) => {
    const t = top(c);
    return Math.min(...c.victims.filter((v) => prio(v.pod) === t).map((v) => started(v.pod)));
  };
  const keys: ((c: Candidate) => number)[] = [(c) => c.pdbViolations, top, sum, (c) => c.victims.length, (c) => -earliestTop(c)];
  let best: Candidate | undefined;
  for (const c of cands) {
    if (!c.victims.length) return c;
    if (!best) {
      best = c;
      continue;
    }
    for (const k of keys) {
      const a = k(c), b = k(best);
      if (a < b) best = c;
      if (a !== b) break;
    }
  }
  return best;
}

export function findPreemption(cache: SchedulerCache, pod: any, pi: PodInfo, vol: VolumeInfo, candidates: NodeInfo[], pdbs: any[] = []): PreemptionPlan | undefined {
  const mine = prio(pod);
  const found: Candidate[] = [];
  for (const n of candidates) {
    const lower = [...n.pods.values()].filter((p) => prio(p.pod) < mine && !p.pod?.metadata?.deletionTimestamp);
    if (!lower.length) continue;
    const fits = () => !filter(prepare(cache, pod, pi, vol), n);
    const removed: PodInfo[] = [];
    try {
      for (const p of lower) if (cache.removePod(p.key)) removed.push(p);
      if (!fits()) continue;
      // Reprieve the most important (then the longest running) first; victims whose deletion
      // would break a PodDisruptionBudget get their chance before the others.
      const order = [...removed].sort(moreImportant);
      const { violating, ok } = splitByPdbViolation(order, pdbs);
      const victims: PodInfo[] = [];
      let pdbViolations = 0;
      const reprieve = (p: PodInfo) => {
        cache.addPod(p);
        if (fits()) return true;
        cache.removePod(p.key);
        victims.push(p);
        return false;
      };
      for (const p of violating) if (!reprieve(p)) pdbViolations++;
      for (const p of ok) reprieve(p);
      found.push({ node: n.name, victims: victims.sort(moreImportant), pdbViolations });
    } finally {
      for (const p of removed) if (!cache.pods.has(p.key)) cache.addPod(p);
    }
  }
  const best = pickCandidate(found);
  return best && { node: best.node, victims: best.victims, pdbViolations: best.pdbViolations };
}

const moreImportant = (a: PodInfo, b: PodInfo) => prio(b.pod) - prio(a.pod) || started(a.pod) - started(b.pod);
