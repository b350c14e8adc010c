// Table columns for the core ("") API group, after printers.go (printPod, printService, ...).
import type { Column } from "../registry";
import {
  CONTAINERS_DESCRIPTION,
  IMAGES_DESCRIPTION,
  ageCol,
  arr,
  col,
  deleting,
  formatLabels,
  int,
  joinHostPort,
  layoutContainers,
  mapLen,
  nameCol,
  obj,
  parseTime,
  quantity,
  since,
  sortedSet,
  str,
} from "./format";
import { isObj } from "../helpers/json";
import { humanDuration } from "../helpers/duration";

// ---------------------------------------------------------------------------------------------
// Pod

export interface PodSummary {
  ready: string;
  status: string;
  restarts: string;
}

function isRestartableInit(c: unknown): boolean {
  return isObj(c) && c.restartPolicy === "Always";
}

function terminatedReason(t: Record<string, any>, prefix: string): string {
  const reason = str(t.reason);
  if (reason !== "") return prefix + reason;
  const signal = int(t.signal);
  if (signal !== 0) return `${prefix}Signal:${signal}`;
  return `${prefix}ExitCode:${int(t.exitCode)}`;
}

function hasCondition(conditions: unknown, type: string): boolean {
  for (const c of arr(conditions)) {
    if (isObj(c) && c.type === type && c.status === "True") return true;
  }
  return false;
}

/** isPodInitializedConditionTrue: the first Initialized condition decides. */
function initializedTrue(conditions: unknown): boolean {
  for (const c of arr(conditions)) {
    if (!isObj(c) || c.type !== "Initialized") continue;
    return c.status === "True";
  }
  return false;
}

/** The READY / STATUS / RESTARTS cells of printPod (recomputed per call: cells stay pure). */
export function podSummary(pod: any, now: number): PodSummary {
  return computePodSummary(obj(pod), now);
}

function computePodSummary(pod: Record<string, any>, now: number): PodSummary {
  const spec = obj(pod.spec);
  const status = obj(pod.status);
  const initContainerSpecs = arr(spec.initContainers);

  let restarts = 0;
  let restartableInitContainerRestarts = 0;
  let totalContainers = arr(spec.containers).length;
  let readyContainers = 0;
  let lastRestartDate: number | undefined;
  let lastRestartableInitContainerRestartDate: number | undefined;

  const podPhase = str(status.phase);
  let reason = podPhase;
  if (str(status.reason) !== "") reason = str(status.reason);

  for (const c of arr(status.conditions)) {
    if (isObj(c) && c.type === "PodScheduled" && c.reason === "SchedulingGated") reason = "SchedulingGated";
  }

  const initContainers = new Map<string, any>();
  for (const c of initContainerSpecs) {
    if (!isObj(c)) continue;
    initContainers.set(str(c.name), c);
    if (isRestartableInit(c)) totalContainers++;
  }

  const later = (cur: number | undefined, ts: unknown): number | undefined => {
    const t = parseTime(ts);
    if (t === undefined) return cur;
    return cur === undefined || cur < t ? t : cur;
  };

  let initializing = false;
  const initStatuses = arr(status.initContainerStatuses);
  for (let i = 0; i < initStatuses.length; i++) {
    const container = obj(initStatuses[i]);
    const state = obj(container.state);
    const lastTerminated = obj(container.lastState).terminated;
    restarts += int(container.restartCount);
    if (isObj(lastTerminated)) lastRestartDate = later(lastRestartDate, lastTerminated.finishedAt);
    const restartable = isRestartableInit(initContainers.get(str(container.name)));
    if (restartable) {
      restartableInitContainerRestarts += int(container.restartCount);
      if (isObj(lastTerminated)) {
        lastRestartableInitContainerRestartDate = later(lastRestartableInitContainerRestartDate, lastTerminated.finishedAt);
      }
    }
    const terminated = isObj(state.terminated) ? state.terminated : undefined;
    const waiting = isObj(state.waiting) ? state.waiting : undefined;
    if (terminated && int(terminated.exitCode) === 0) {
      continue;
    } else if (restartable && container.started === true) {
      if (container.ready === true) readyContainers++;
      continue;
    } else if (terminated) {
      // initialization failed
      reason = terminatedReason(terminated, "Init:");
      initializing = true;
    } else if (waiting && str(waiting.reason) !== "" && waiting.reason !== "PodInitializing") {
      reason = "Init:" + str(waiting.reason);
      initializing = true;
    } else {
      reason = `Init:${i}/${initContainerSpecs.length}`;
      initializing = true;
    }
    break;
  }

  if (!initializing || initializedTrue(status.conditions)) {
    restarts = restartableInitContainerRestarts;
    lastRestartDate = lastRestartableInitContainerRestartDate;
    let hasRunning = false;
    const statuses = arr(status.containerStatuses);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const container = obj(statuses[i]);
      const state = obj(container.state);
      const lastTerminated = obj(container.lastState).terminated;
      restarts += int(container.restartCount);
      if (isObj(lastTerminated)) lastRestartDate = later(lastRestartDate, lastTerminated.finishedAt);
      const terminated = isObj(state.terminated) ? state.terminated : undefined;
      const waiting = isObj(state.waiting) ? state.waiting : undefined;
      if (waiting && str(waiting.reason) !== "") {
        reason = str(waiting.reason);
      } else if (terminated && str(terminated.reason) !== "") {
        reason = str(terminated.reason);
      } else if (terminated) {
        reason = terminatedReason(terminated, "");
      } else if (container.ready === true && isObj(state.running)) {
        hasRunning = true;
        readyContainers++;
      }
    }
    // change pod status back to "Running" if there is at least one container still reporting as "Running"
    if (reason === "Completed" && hasRunning) {
      reason = hasCondition(status.conditions, "Ready") ? "Running" : "NotReady";
    }
  }

  if (deleting(pod) && status.reason === "NodeLost") {
    reason = "Unknown";
  } else if (deleting(pod) && podPhase !== "Failed" && podPhase !== "Succeeded") {
    reason = "Terminating";
  }

  let restartsStr = String(restarts);
  if (restarts !== 0 && lastRestartDate !== undefined) {
    restartsStr = `${restarts} (${humanDuration(now - lastRestartDate)} ago)`;
  }

  return { ready: `${readyContainers}/${totalContainers}`, status: reason, restarts: restartsStr };
}

function podIP(pod: any): string {
  const status = obj(pod?.status);
  const ips = arr(status.podIPs);
  let ip = ips.length > 0 ? str(obj(ips[0]).ip) : str(status.podIP);
  return ip === "" ? "<none>" : ip;
}

function readinessGates(pod: any): string {
  const gates = arr(pod?.spec?.readinessGates);
  if (gates.length === 0) return "<none>";
  const conditions = arr(pod?.status?.conditions);
  let trueConditions = 0;
  for (const g of gates) {
    const type = obj(g).conditionType;
    for (const c of conditions) {
      if (isObj(c) && c.type === type) {
        if (c.status === "True") trueConditions++;
        break;
      }
    }
  }
  return `${trueConditions}/${gates.length}`;
}

const orNone = (s: string): string => (s === "" ? "<none>" : s);

export const podColumns: Column[] = [
  nameCol(),
  col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic.", (o, now) => podSummary(o, now).ready),
  col("Status", "string", "The aggregate status of the containers in this pod.", (o, now) => podSummary(o, now).status),
  col(
    "Restarts",
    "string",
    "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    (o, now) => podSummary(o, now).restarts,
  ),
  ageCol(),
  col("IP", "string", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", (o) => podIP(o), 1),
  col(
    "Node",
    "string",
    "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName.",
    (o) => orNone(str(o?.spec?.nodeName)),
    1,
  ),
  col(
    "Nominated Node",
    "string",
    "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.",
    (o) => orNone(str(o?.status?.nominatedNodeName)),
    1,
  ),
  col(
    "Readiness Gates",
    "string",
    "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\".",
    (o) => readinessGates(o),
    1,
  ),
];

// ---------------------------------------------------------------------------------------------
// PodTemplate

const podTemplateColumns: Column[] = [
  nameCol(),
  col("Containers", "string", CONTAINERS_DESCRIPTION, (o) => layoutContainers(o?.template?.spec?.containers)[0]),
  col("Images", "string", IMAGES_DESCRIPTION, (o) => layoutContainers(o?.template?.spec?.containers)[1]),
  col("Pod Labels", "string", "The labels for the pod template.", (o) => formatLabels(o?.template?.metadata?.labels)),
];

// ---------------------------------------------------------------------------------------------
// ReplicationController

const replicationControllerColumns: Column[] = [
  nameCol(),
  col("Desired", "integer", "Replicas is the number of desired replicas.", (o) => replicas(o?.spec?.replicas)),
  col("Current", "integer", "Replicas is the most recently observed number of replicas.", (o) => int(o?.status?.replicas)),
  col("Ready", "integer", "The number of ready replicas for this replication controller.", (o) => int(o?.status?.readyReplicas)),
  ageCol(),
  col("Containers", "string", CONTAINERS_DESCRIPTION, (o) => layoutContainers(o?.spec?.template?.spec?.containers)[0], 1),
  col("Images", "string", IMAGES_DESCRIPTION, (o) => layoutContainers(o?.spec?.template?.spec?.containers)[1], 1),
  col("Selector", "string", "Selector is a label query over pods that should match the Replicas count.", (o) => formatLabels(o?.spec?.selector), 1),
];

/** spec.replicas is defaulted to 1 by the API server; treat an absent value the same way. */
export function replicas(v: unknown): number {
  return v === undefined || v === null ? 1 : int(v);
}

// ---------------------------------------------------------------------------------------------
// Service

function loadBalancerIngress(lb: unknown): string[] {
  const out: string[] = [];
  for (const ing of arr(obj(lb).ingress)) {
    if (!isObj(ing)) continue;
    if (str(ing.ip) !== "") out.push(str(ing.ip));
    else if (str(ing.hostname) !== "") out.push(str(ing.hostname));
  }
  // The API server always renders with Wide=true, so the address list is never clipped.
  return sortedSet(out);
}

function serviceExternalIP(svc: any): string {
  const spec = obj(svc?.spec);
  const externalIPs = arr(spec.externalIPs).map(str);
  switch (spec.type) {
    case "ClusterIP":
    case "NodePort":
      return externalIPs.length > 0 ? externalIPs.join(",") : "<none>";
    case "LoadBalancer": {
      const lb = loadBalancerIngress(obj(svc?.status).loadBalancer);
      if (externalIPs.length > 0) return [...lb, ...externalIPs].join(",");
      return lb.length > 0 ? lb.join(",") : "<pending>";
    }
    case "ExternalName":
      return str(spec.externalName);
  }
  return "<unknown>";
}

export function servicePorts(ports: unknown): string {
  const pieces = arr(ports).map((p) => {
    const port = obj(p);
    const nodePort = int(port.nodePort);
    const protocol = str(port.protocol);
    return nodePort > 0 ? `${int(port.port)}:${nodePort}/${protocol}` : `${int(port.port)}/${protocol}`;
  });
  const s = pieces.join(",");
  return s === "" ? "<none>" : s;
}

function serviceClusterIP(svc: any): string {
  const spec = obj(svc?.spec);
  const ips = arr(spec.clusterIPs);
  if (ips.length > 0) return str(ips[0]);
  // The API server always populates clusterIPs from clusterIP; fall back for objects that lack it.
  if (str(spec.clusterIP) !== "") return str(spec.clusterIP);
  return "<none>";
}

const serviceColumns: Column[] = [
  nameCol(),
  col("Type", "string", "type determines how the Service is exposed.", (o) => str(o?.spec?.type)),
  col("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly.", (o) => serviceClusterIP(o)),
  col(
    "External-IP",
    "string",
    "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
    (o) => serviceExternalIP(o),
  ),
  col("Port(s)", "string", "The list of ports that are exposed by this service.", (o) => servicePorts(o?.spec?.ports)),
  ageCol(),
  col(
    "Selector",
    "string",
    "Route service traffic to pods with label keys and values matching this selector.",
    (o) => formatLabels(o?.spec?.selector),
    1,
  ),
];

// ---------------------------------------------------------------------------------------------
// Endpoints

export function formatEndpoints(ep: any): string {
  const subsets = arr(ep?.subsets);
  if (subsets.length === 0) return "<none>";
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const s of subsets) {
    const ss = obj(s);
    const addresses = arr(ss.addresses).map(obj);
    const ports = arr(ss.ports).map(obj);
    if (ports.length === 0) {
      // headless services with no ports
      count += addresses.length;
      for (const a of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(str(a.ip));
      }
      continue;
    }
    for (const port of ports) {
      count += addresses.length;
      for (const a of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(joinHostPort(str(a.ip), int(port.port)));
      }
    }
  }
  const ret = list.join(",");
  return more ? `${ret} + ${count - max} more...` : ret;
}

const endpointsColumns: Column[] = [
  nameCol(),
  col("Endpoints", "string", "The set of all endpoints is the union of all subsets.", (o) => formatEndpoints(o)),
  ageCol(),
];

// ---------------------------------------------------------------------------------------------
// Node

function nodeStatus(node: any): string {
  const conditions = new Map<string, any>();
  for (const c of arr(node?.status?.conditions)) if (isObj(c)) conditions.set(str(c.type), c);
  const status: string[] = [];
  const ready = conditions.get("Ready");
  if (ready) status.push(ready.status === "True" ? "Ready" : "NotReady");
  if (status.length === 0) status.push("Unknown");
  if (node?.spec?.unschedulable === true) status.push("SchedulingDisabled");
  return status.join(",");
}

function nodeRoles(node: any): string {
  const roles: string[] = [];
  const labels = obj(node?.metadata?.labels);
  for (const [k, v] of Object.entries(labels)) {
    if (k.startsWith("node-role.kubernetes.io/")) {
      const role = k.slice("node-role.kubernetes.io/".length);
      if (role.length > 0) roles.push(role);
    } else if (k === "kubernetes.io/role" && str(v) !== "") {
      roles.push(str(v));
    }
  }
  const s = sortedSet(roles).join(",");
  return s === "" ? "<none>" : s;
}

function nodeAddress(node: any, type: string): string {
  for (const a of arr(node?.status?.addresses)) {
    if (isObj(a) && a.type === type) return str(a.address);
  }
  return "<none>";
}

const orUnknown = (s: string): string => (s === "" ? "<unknown>" : s);

const nodeColumns: Column[] = [
  nameCol(),
  col("Status", "string", "The status of the node", (o) => nodeStatus(o)),
  col("Roles", "string", "The roles of the node", (o) => nodeRoles(o)),
  ageCol(),
  col("Version", "string", "Kubelet Version reported by the node.", (o) => str(o?.status?.nodeInfo?.kubeletVersion)),
  col("Internal-IP", "string", "List of addresses reachable to the node.", (o) => nodeAddress(o, "InternalIP"), 1),
  col("External-IP", "string", "List of addresses reachable to the node.", (o) => nodeAddress(o, "ExternalIP"), 1),
  col("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", (o) => orUnknown(str(o?.status?.nodeInfo?.osImage)), 1),
  col("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", (o) => orUnknown(str(o?.status?.nodeInfo?.kernelVersion)), 1),
  col(
    "Container-Runtime",
    "string",
    "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
    (o) => orUnknown(str(o?.status?.nodeInfo?.containerRuntimeVersion)),
    1,
  ),
];

// ---------------------------------------------------------------------------------------------
// Event (core/v1 and events.k8s.io/v1 share the internal printer)

/** Normalises an events.k8s.io/v1 Event to the core/v1 field names printEvent reads. */
export function coreEventView(o: any): Record<string, any> {
  const e = obj(o);
  if (e.involvedObject !== undefined || (e.regarding === undefined && e.note === undefined && e.deprecatedSource === undefined)) {
    return e;
  }
  return {
    metadata: e.metadata,
    involvedObject: e.regarding,
    message: e.note,
    reason: e.reason,
    type: e.type,
    source: e.deprecatedSource,
    firstTimestamp: e.deprecatedFirstTimestamp,
    lastTimestamp: e.deprecatedLastTimestamp,
    count: e.deprecatedCount,
    eventTime: e.eventTime,
    series: e.series,
    reportingComponent: e.reportingController,
    reportingInstance: e.reportingInstance,
  };
}

function eventFirst(e: Record<string, any>, now: number): string {
  if (parseTime(e.firstTimestamp) === undefined) return since(e.eventTime, now);
  return since(e.firstTimestamp, now);
}

function eventLast(e: Record<string, any>, now: number): string {
  if (isObj(e.series)) return since(e.series.lastObservedTime, now);
  if (parseTime(e.lastTimestamp) === undefined) return eventFirst(e, now);
  return since(e.lastTimestamp, now);
}

function eventCount(e: Record<string, any>): number {
  if (isObj(e.series)) return int(e.series.count);
  const c = int(e.count);
  return c === 0 ? 1 : c;
}

function eventTarget(e: Record<string, any>): string {
  const io = obj(e.involvedObject);
  const kind = str(io.kind).toLowerCase();
  return str(io.name).length > 0 ? `${kind}/${str(io.name)}` : kind;
}

function eventSource(e: Record<string, any>): string {
  const source = obj(e.source);
  const component = str(source.component) || str(e.reportingComponent) || str(e.reportingController);
  const instance = str(source.host) || str(e.reportingInstance);
  return instance.length === 0 ? component : `${component}, ${instance}`;
}

function evCol(
  name: string,
  type: Column["type"],
  description: string,
  cell: (e: Record<string, any>, now: number) => string | number,
  priority: 0 | 1 = 0,
): Column {
  return col(name, type, description, (o, now) => cell(coreEventView(o), now), priority);
}

export const eventColumns: Column[] = [
  evCol("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded.", (e, now) => eventLast(e, now)),
  evCol("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future", (e) => str(e.type)),
  evCol("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.", (e) => str(e.reason)),
  evCol("Object", "string", "The object that this event is about.", (e) => eventTarget(e)),
  evCol(
    "Subobject",
    "string",
    "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].",
    (e) => str(obj(e.involvedObject).fieldPath),
    1,
  ),
  evCol("Source", "string", "The component reporting this event. Should be a short machine understandable string.", (e) => eventSource(e), 1),
  evCol("Message", "string", "A human-readable description of the status of this operation.", (e) => str(e.message).trim()),
  evCol("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)", (e, now) => eventFirst(e, now), 1),
  evCol("Count", "string", "The number of times this event has occurred.", (e) => eventCount(e), 1),
  nameCol(undefined, 1),
];

// ---------------------------------------------------------------------------------------------
// Namespace, Secret, ServiceAccount, ConfigMap

const namespaceColumns: Column[] = [
  nameCol(),
  col("Status", "string", "The status of the namespace", (o) => str(o?.status?.phase)),
  ageCol(),
];

const secretColumns: Column[] = [
  nameCol(),
  col("Type", "string", "Used to facilitate programmatic handling of secret data.", (o) => str(o?.type)),
  col("Data", "string", "Data contains the secret data.", (o) => mapLen(o?.data)),
  ageCol(),
];

const serviceAccountColumns: Column[] = [
  nameCol(),
  col("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.", (o) => arr(o?.secrets).length),
  ageCol(),
];

const configMapColumns: Column[] = [
  nameCol(),
  col("Data", "string", "Data contains the configuration data.", (o) => mapLen(o?.data) + mapLen(o?.binaryData)),
  ageCol(),
];

// ---------------------------------------------------------------------------------------------
// PersistentVolume, PersistentVolumeClaim

/** helper.GetAccessModesAsString. */
export function accessModes(modes: unknown): string {
  const set = new Set(arr(modes).map(str));
  const out: string[] = [];
  if (set.has("ReadWriteOnce")) out.push("RWO");
  if (set.has("ReadOnlyMany")) out.push("ROX");
  if (set.has("ReadWriteMany")) out.push("RWX");
  if (set.has("ReadWriteOncePod")) out.push("RWOP");
  return out.join(",");
}

const BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class";

function pvClass(o: any): string {
  const ann = obj(o?.metadata?.annotations);
  if (BETA_STORAGE_CLASS in ann) return str(ann[BETA_STORAGE_CLASS]);
  return str(o?.spec?.storageClassName);
}

function pvPhase(o: any): string {
  return deleting(o) ? "Terminating" : str(o?.status?.phase);
}

function unsetOr(v: unknown): string {
  return v === undefined || v === null ? "<unset>" : str(v);
}

const persistentVolumeColumns: Column[] = [
  nameCol(),
  col("Capacity", "string", "capacity is the description of the persistent volume's resources and capacity.", (o) => quantity(obj(o?.spec?.capacity).storage)),
  col("Access Modes", "string", "accessModes contains all ways the volume can be mounted.", (o) => accessModes(o?.spec?.accessModes)),
  col(
    "Reclaim Policy",
    "string",
    "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.",
    (o) => str(o?.spec?.persistentVolumeReclaimPolicy),
  ),
  col("Status", "string", "phase indicates if a volume is available, bound to a claim, or released by a claim.", (o) => pvPhase(o)),
  col("Claim", "string", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.", (o) => {
    const ref = o?.spec?.claimRef;
    return isObj(ref) ? `${str(ref.namespace)}/${str(ref.name)}` : "";
  }),
  col("StorageClass", "string", "StorageClass of the pv", (o) => pvClass(o)),
  col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv", (o) => unsetOr(o?.spec?.volumeAttributesClassName)),
  col("Reason", "string", "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.", (o) => str(o?.status?.reason)),
  ageCol(),
  col("VolumeMode", "string", "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.", (o) => unsetOr(o?.spec?.volumeMode), 1),
];

function pvcClass(o: any): string {
  const ann = obj(o?.metadata?.annotations);
  if (BETA_STORAGE_CLASS in ann) return str(ann[BETA_STORAGE_CLASS]);
  const sc = o?.spec?.storageClassName;
  return sc === undefined || sc === null ? "" : str(sc);
}

function pvcBound(o: any): boolean {
  return str(o?.spec?.volumeName) !== "";
}

const persistentVolumeClaimColumns: Column[] = [
  nameCol(),
  col("Status", "string", "phase represents the current phase of PersistentVolumeClaim.", (o) => pvPhase(o)),
  col("Volume", "string", "volumeName is the binding reference to the PersistentVolume backing this claim.", (o) => str(o?.spec?.volumeName)),
  col("Capacity", "string", "capacity represents the actual resources of the underlying volume.", (o) =>
    pvcBound(o) ? quantity(obj(o?.status?.capacity).storage) : "",
  ),
  col("Access Modes", "string", "accessModes contains the actual access modes the volume backing the PVC has.", (o) =>
    pvcBound(o) ? accessModes(o?.status?.accessModes) : "",
  ),
  col("StorageClass", "string", "StorageClass of the pvc", (o) => pvcClass(o)),
  col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc", (o) => unsetOr(o?.spec?.volumeAttributesClassName)),
  ageCol(),
  col("VolumeMode", "string", "volumeMode defines what type of volume is required by the claim.", (o) => unsetOr(o?.spec?.volumeMode), 1),
];

// ---------------------------------------------------------------------------------------------
// ResourceQuota

function quotaColumn(o: any, limits: boolean): string {
  const hard = obj(o?.status?.hard);
  const used = obj(o?.status?.used);
  const names = Object.keys(hard).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const parts: string[] = [];
  for (const r of names) {
    const pieces = r.split(".");
    const isLimit = pieces.length > 1 && pieces[0] === "limits";
    if (isLimit !== limits) continue;
    parts.push(`${r}: ${quantity(used[r])}/${quantity(hard[r])}`);
  }
  return parts.join(", ");
}

const resourceQuotaColumns: Column[] = [
  nameCol(),
  col("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume.", (o) => quotaColumn(o, false)),
  col(
    "Limit",
    "string",
    "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
    (o) => quotaColumn(o, true),
  ),
  ageCol(),
];

// ---------------------------------------------------------------------------------------------
// ComponentStatus

function componentCondition(o: any): { status: string; message: string; error: string } {
  for (const c of arr(o?.conditions)) {
    if (isObj(c) && c.type === "Healthy") {
      return { status: c.status === "True" ? "Healthy" : "Unhealthy", message: str(c.message), error: str(c.error) };
    }
  }
  return { status: "Unknown", message: "", error: "" };
}

const componentStatusColumns: Column[] = [
  nameCol(),
  col("Status", "string", "Status of the component conditions", (o) => componentCondition(o).status),
  col("Message", "string", "Message of the component conditions", (o) => componentCondition(o).message),
  col("Error", "string", "Error of the component conditions", (o) => componentCondition(o).error),
];

export const coreColumns: Record<string, Column[]> = {
  "/Pod": podColumns,
  "/PodTemplate": podTemplateColumns,
  "/ReplicationController": replicationControllerColumns,
  "/Service": serviceColumns,
  "/Endpoints": endpointsColumns,
  "/Node": nodeColumns,
  "/Event": eventColumns,
  "/Namespace": namespaceColumns,
  "/Secret": secretColumns,
  "/ServiceAccount": serviceAccountColumns,
  "/ConfigMap": configMapColumns,
  "/PersistentVolume": persistentVolumeColumns,
  "/PersistentVolumeClaim": persistentVolumeClaimColumns,
  "/ResourceQuota": resourceQuotaColumns,
  "/ComponentStatus": componentStatusColumns,
};
