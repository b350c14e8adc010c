// Pod status from what the runtime reports (pure; the worker gathers the inputs): phase like
// kubelet's getPhase, the four pod conditions, container statuses with state/lastState,
// restartCount, ready/started, image and IDs.

import type { ProbeState } from "../probes/prober.ts";
import { qosClass } from "./resources.ts";
import type { ContainerStateK8s, ContainerStatusK8s, Pod, PodCondition, PodStatus } from "./types.ts";

export interface ContainerRecord {
  id: string;
  name: string;
  /** The container's restart count (CRI metadata attempt). */
  attempt: number;
  sandboxId: string;
  state: "created" | "running" | "exited" | "unknown";
  /** ms since the epoch, 0 when unset. */
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  reason: string;
  message: string;
  image: string;
  imageRef: string;
}

export interface Waiting {
  reason: string;
  message?: string;
}

export interface StatusInput {
  pod: Pod;
  hostIPs: string[];
  podIPs: string[];
  /** Records per container name, newest first. */
  records: Map<string, ContainerRecord[]>;
  /** Reasons the worker could not start a container (CrashLoopBackOff, ErrImagePull, ...). */
  waiting: Map<string, Waiting>;
  probes: Map<string, ProbeState>;
  startTime?: string;
  /** The pod is being deleted: nothing restarts any more. */
  terminating?: boolean;
  /** e.g. DeadlineExceeded. */
  failure?: { reason: string; message: string };
  now?: Date;
}

export function rfc3339(ms: number | Date): string {
  const d = typeof ms === "number" ? new Date(ms) : ms;
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function terminated(r: ContainerRecord): NonNullable<ContainerStateK8s["terminated"]> {
  const t: NonNullable<ContainerStateK8s["terminated"]> = {
    exitCode: r.exitCode,
    reason: r.reason || (r.exitCode === 0 ? "Completed" : "Error"),
    startedAt: r.startedAt ? rfc3339(r.startedAt) : undefined,
    finishedAt: r.finishedAt ? rfc3339(r.finishedAt) : undefined,
    containerID: `containerd://${r.id}`,
  };
  if (r.message) t.message = r.message;
  if (!t.startedAt) delete t.startedAt;
  if (!t.finishedAt) delete t.finishedAt;
  return t;
}

function containerStatus(
  name: string,
  specImage: string,
  recs: ContainerRecord[] | undefined,
  waiting: Waiting | undefined,
  probes: ProbeState | undefined,
  defaultWaiting: string,
): ContainerStatusK8s {
  const latest = recs?.[0];
  const prev = recs?.[1];
  const st: ContainerStatusK8s = {
    name,
    state: {},
    lastState: {},
    ready: false,
    restartCount: latest?.attempt ?? 0,
    image: latest?.image || specImage,
    imageID: latest?.imageRef ?? "",
    started: false,
  };
  if (latest) st.containerID = `containerd://${latest.id}`;
  if (!latest) {
    st.state = { waiting: waiting ? { reason: waiting.reason, ...(waiting.message ? { message: waiting.message } : {}) } : { reason: defaultWaiting } };
    return st;
  }
  if (latest.state === "running") {
    st.state = { running: { startedAt: rfc3339(latest.startedAt || latest.createdAt) } };
    if (prev && prev.state === "exited") st.lastState = { terminated: terminated(prev) };
    st.started = probes ? probes.started : true;
    st.ready = !!probes && probes.started && probes.ready && !probes.failed;
    return st;
  }
  if (latest.state === "exited") {
    if (waiting) {
      st.state = { waiting: { reason: waiting.reason, ...(waiting.message ? { message: waiting.message } : {}) } };
      st.lastState = { terminated: terminated(latest) };
    } else {
      st.state = { terminated: terminated(latest) };
      if (prev && prev.state === "exited") st.lastState = { terminated: terminated(prev) };
    }
    return st;
  }
  // created (not started yet) or unknown
  st.state = { waiting: waiting ? { reason: waiting.reason, ...(waiting.message ? { message: waiting.message } : {}) } : { reason: "ContainerCreating" } };
  if (prev && prev.state === "exited") st.lastState = { terminated: terminated(prev) };
  return st;
}

/** kubelet's getPhase. */
export function podPhase(pod: Pod, init: ContainerStatusK8s[], app: ContainerStatusK8s[], terminating: boolean): string {
  const policy = pod.spec.restartPolicy ?? "Always";
  let pendingInit = 0;
  let failedInit = 0;
  for (const s of init) {
    // Sidecars (restartPolicy Always init containers) count once started.
    const spec = pod.spec.initContainers?.find((c) => c.name === s.name);
    if (spec?.restartPolicy === "Always") {
      if (!s.started) pendingInit++;
      continue;
    }
    if (s.state.terminated?.exitCode === 0) continue;
    if (s.state.terminated) failedInit++;
    else if (s.state.waiting && s.lastState.terminated && s.lastState.terminated.exitCode !== 0) failedInit++;
    else pendingInit++;
  }
  if (pendingInit > 0 || failedInit > 0) {
    if (failedInit > 0 && policy === "Never") return "Failed";
    return "Pending";
  }
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const s of app) {
    if (s.state.running) running++;
    else if (s.state.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state.waiting) {
      if (s.lastState.terminated) {
        stopped++;
        if (s.lastState.terminated.exitCode === 0) succeeded++;
      } else waiting++;
    }
  }
  if (waiting > 0) return "Pending";
  if (running > 0) return "Running";
  if (stopped > 0) {
    if (!terminating && policy === "Always") return "Running";
    if (stopped === succeeded) return "Succeeded";
    if (policy === "Never" || terminating) return "Failed";
    return "Running";
  }
  return "Pending";
}

function condition(type: string, ok: boolean, reason?: string, message?: string): PodCondition {
  const c: PodCondition = { type, status: ok ? "True" : "False" };
  if (!ok && reason) c.reason = reason;
  if (!ok && message) c.message = message;
  return c;
}

/** Keeps lastTransitionTime from the previous status when the condition's status did not change. */
function withTimes(conds: PodCondition[], previous: PodCondition[] | undefined, now: string): PodCondition[] {
  return conds.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    return { ...c, lastTransitionTime: old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : now };
  });
}

const OWNED = new Set(["PodScheduled", "Initialized", "ContainersReady", "Ready", "PodReadyToStartContainers"]);

export function computePodStatus(i: StatusInput): PodStatus {
  const pod = i.pod;
  const now = rfc3339(i.now ?? new Date());
  const initSpecs = pod.spec.initContainers ?? [];
  const initStatuses: ContainerStatusK8s[] = [];
  let initDone = true;
  for (const c of initSpecs) {
    const s = containerStatus(c.name, c.image, i.records.get(c.name), i.waiting.get(c.name), i.probes.get(i.records.get(c.name)?.[0]?.id ?? ""), initDone ? "PodInitializing" : "PodInitializing");
    // Sidecar init containers report ready like app containers; run-to-completion ones are
    // ready once they exited 0.
    if (c.restartPolicy !== "Always") s.ready = s.state.terminated?.exitCode === 0;
    initStatuses.push(s);
    const done = c.restartPolicy === "Always" ? !!s.started : s.state.terminated?.exitCode === 0;
    if (!done) initDone = false;
  }
  const appStatuses = pod.spec.containers.map((c) =>
    containerStatus(c.name, c.image, i.records.get(c.name), i.waiting.get(c.name), i.probes.get(i.records.get(c.name)?.[0]?.id ?? ""), initDone ? "ContainerCreating" : "PodInitializing"),
  );
  const phase = i.failure ? "Failed" : podPhase(pod, initStatuses, appStatuses, !!i.terminating);

  const incompleteInit = initSpecs.filter((c, k) => {
    const s = initStatuses[k]!;
    return c.restartPolicy === "Always" ? !s.started : s.state.terminated?.exitCode !== 0;
  });
  const notReady = appStatuses.filter((s) => !s.ready).map((s) => s.name);
  const completed = phase === "Succeeded" || phase === "Failed";
  const containersReady = notReady.length === 0 && !completed;
  const gates = (pod.spec.readinessGates ?? []).map((g) => g.conditionType);
  const gatesOk = gates.every((g) => pod.status?.conditions?.find((c) => c.type === g)?.status === "True");
  const list = (names: string[]) => `[${names.join(" ")}]`;
  const notReadyReason = completed ? "PodCompleted" : "ContainersNotReady";
  const notReadyMsg = completed ? undefined : `containers with unready status: ${list(notReady)}`;
  const conds: PodCondition[] = [
    condition("PodReadyToStartContainers", i.podIPs.length > 0 || !!pod.spec.hostNetwork ? !completed : false),
    condition(
      "Initialized",
      incompleteInit.length === 0 || completed,
      "ContainersNotInitialized",
      `containers with incomplete status: ${list(incompleteInit.map((c) => c.name))}`,
    ),
    condition(
      "Ready",
      containersReady && gatesOk,
      containersReady ? "ReadinessGatesNotReady" : notReadyReason,
      containersReady ? `corresponding condition of pod readiness gate "${gates.find((g) => pod.status?.conditions?.find((c) => c.type === g)?.status !== "True")}" does not exist.` : notReadyMsg,
    ),
    condition("ContainersReady", containersReady, notReadyReason, notReadyMsg),
    condition("PodScheduled", true),
  ];
  const previous = pod.status?.conditions;
  const conditions = [
    ...withTimes(conds, previous, now),
    ...(previous ?? []).filter((c) => !OWNED.has(c.type)),
  ];
  const status: PodStatus = {
    phase,
    conditions,
    hostIP: i.hostIPs[0],
    hostIPs: i.hostIPs.map((ip) => ({ ip })),
    startTime: i.startTime,
    containerStatuses: appStatuses,
    qosClass: pod.status?.qosClass ?? qosClass(pod),
  };
  if (i.podIPs.length) {
    status.podIP = i.podIPs[0];
    status.podIPs = i.podIPs.map((ip) => ({ ip }));
  }
  if (initStatuses.length) status.initContainerStatuses = initStatuses;
  // Ephemeral containers count for nothing (phase, readiness); kubelet reports them never
  // ready and without `started` (no probes).
  const eph = (pod.spec.ephemeralContainers ?? []).map((c) => {
    const s = containerStatus(c.name, c.image, i.records.get(c.name), i.waiting.get(c.name), undefined, "ContainerCreating");
    s.ready = false;
    delete s.started;
    return s;
  });
  if (eph.length) status.ephemeralContainerStatuses = eph;
  if (i.failure) {
    status.reason = i.failure.reason;
    status.message = i.failure.message;
  }
  if (!status.hostIP) delete status.hostIP;
  if (!status.startTime) delete status.startTime;
  return status;
}
