// Kubernetes defaulting for pods and pod templates, mirroring pkg/apis/core/v1/defaults.go
// (SetDefaults_Pod, SetDefaults_PodSpec, SetDefaults_Container, SetDefaults_Probe, volume
// sources...), plus the few values the API server fills at create time (status.phase Pending,
// status.qosClass, priority 0 and preemptionPolicy from the Priority admission plugin).
// Other kinds that embed a PodTemplateSpec (Deployment, Job, ...) call defaultPodTemplateSpec.
import { isObj } from "../helpers/json";

const arr = (v: unknown): any[] => (Array.isArray(v) ? v : []);
const unset = (v: unknown) => v === undefined || v === null || v === "" || v === 0;

/** Tag of an image reference: "latest" when there is neither a tag nor a digest (ParseImageName). */
export function imageTag(image: string): string {
  if (!image) return "";
  let ref = image;
  const at = ref.indexOf("@");
  const hasDigest = at >= 0;
  if (hasDigest) ref = ref.slice(0, at);
  const lastSlash = ref.lastIndexOf("/");
  const lastColon = ref.lastIndexOf(":");
  if (lastColon > lastSlash) return ref.slice(lastColon + 1);
  return hasDigest ? "" : "latest";
}

export function defaultImagePullPolicy(image: unknown): "Always" | "IfNotPresent" {
  return imageTag(typeof image === "string" ? image : "") === "latest" ? "Always" : "IfNotPresent";
}

function defaultHTTPGet(h: any) {
  if (!isObj(h)) return;
  if (unset(h.path)) h.path = "/";
  if (unset(h.scheme)) h.scheme = "HTTP";
}

function defaultProbe(p: any) {
  if (!isObj(p)) return;
  if (unset(p.timeoutSeconds)) p.timeoutSeconds = 1;
  if (unset(p.periodSeconds)) p.periodSeconds = 10;
  if (unset(p.successThreshold)) p.successThreshold = 1;
  if (unset(p.failureThreshold)) p.failureThreshold = 3;
  defaultHTTPGet(p.httpGet);
}

function defaultFieldRef(f: any) {
  if (isObj(f) && unset(f.apiVersion)) f.apiVersion = "v1";
}

function defaultResourceFieldRef(r: any) {
  // A zero Quantity is a non-pointer field in Go, so it is always serialized as "0".
  if (isObj(r) && (r.divisor === undefined || r.divisor === null)) r.divisor = "0";
}

export function defaultContainer(c: any) {
  if (!isObj(c)) return;
  if (unset(c.imagePullPolicy)) c.imagePullPolicy = defaultImagePullPolicy(c.image);
  if (unset(c.terminationMessagePath)) c.terminationMessagePath = "/dev/termination-log";
  if (unset(c.terminationMessagePolicy)) c.terminationMessagePolicy = "File";
  if (!isObj(c.resources)) c.resources = {};
  for (const p of arr(c.ports)) if (isObj(p) && unset(p.protocol)) p.protocol = "TCP";
  for (const e of arr(c.env)) {
    if (!isObj(e?.valueFrom)) continue;
    defaultFieldRef(e.valueFrom.fieldRef);
    defaultResourceFieldRef(e.valueFrom.resourceFieldRef);
  }
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  if (isObj(c.lifecycle)) {
    defaultHTTPGet(c.lifecycle.postStart?.httpGet);
    defaultHTTPGet(c.lifecycle.preStop?.httpGet);
  }
}

const volumeSourceNames = [
  "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
  "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
  "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
  "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image",
];

function defaultKeyedItems(items: any) {
  for (const it of arr(items)) {
    if (!isObj(it)) continue;
    defaultFieldRef(it.fieldRef);
    defaultResourceFieldRef(it.resourceFieldRef);
  }
}

export function defaultVolume(v: any) {
  if (!isObj(v)) return;
  if (!volumeSourceNames.some((k) => v[k] !== undefined && v[k] !== null)) v.emptyDir = {};
  const mode420 = (s: any) => {
    if (isObj(s) && (s.defaultMode === undefined || s.defaultMode === null)) s.defaultMode = 420;
  };
  mode420(v.secret);
  mode420(v.configMap);
  mode420(v.downwardAPI);
  mode420(v.projected);
  if (isObj(v.downwardAPI)) defaultKeyedItems(v.downwardAPI.items);
  if (isObj(v.projected)) {
    for (const src of arr(v.projected.sources)) {
      if (!isObj(src)) continue;
      if (isObj(src.downwardAPI)) defaultKeyedItems(src.downwardAPI.items);
      if (isObj(src.serviceAccountToken) && unset(src.serviceAccountToken.expirationSeconds))
        src.serviceAccountToken.expirationSeconds = 3600;
    }
  }
  if (isObj(v.hostPath) && (v.hostPath.type === undefined || v.hostPath.type === null)) v.hostPath.type = "";
  if (isObj(v.iscsi) && unset(v.iscsi.iscsiInterface)) v.iscsi.iscsiInterface = "default";
  if (isObj(v.rbd)) {
    if (unset(v.rbd.pool)) v.rbd.pool = "rbd";
    if (unset(v.rbd.user)) v.rbd.user = "admin";
    if (unset(v.rbd.keyring)) v.rbd.keyring = "/etc/ceph/keyring";
  }
  if (isObj(v.azureDisk)) {
    if (unset(v.azureDisk.cachingMode)) v.azureDisk.cachingMode = "ReadWrite";
    if (unset(v.azureDisk.kind)) v.azureDisk.kind = "Shared";
    if (unset(v.azureDisk.fsType)) v.azureDisk.fsType = "ext4";
    if (v.azureDisk.readOnly === undefined) v.azureDisk.readOnly = false;
  }
  if (isObj(v.scaleIO)) {
    if (unset(v.scaleIO.storageMode)) v.scaleIO.storageMode = "ThinProvisioned";
    if (unset(v.scaleIO.fsType)) v.scaleIO.fsType = "xfs";
  }
  const claimSpec = v.ephemeral?.volumeClaimTemplate?.spec;
  if (isObj(claimSpec) && unset(claimSpec.volumeMode)) claimSpec.volumeMode = "Filesystem";
}

function defaultHostNetworkPorts(containers: any[]) {
  for (const c of containers)
    for (const p of arr(c?.ports)) if (isObj(p) && unset(p.hostPort) && !unset(p.containerPort)) p.hostPort = p.containerPort;
}

/** SetDefaults_PodSpec and everything nested in it (applies to pods and to pod templates). */
export function defaultPodSpec(spec: any) {
  if (!isObj(spec)) return;
  if (unset(spec.dnsPolicy)) spec.dnsPolicy = "ClusterFirst";
  if (unset(spec.restartPolicy)) spec.restartPolicy = "Always";
  if (spec.hostNetwork === true) {
    defaultHostNetworkPorts(arr(spec.containers));
    defaultHostNetworkPorts(arr(spec.initContainers));
  }
  if (!isObj(spec.securityContext)) spec.securityContext = {};
  if (spec.terminationGracePeriodSeconds === undefined || spec.terminationGracePeriodSeconds === null)
    spec.terminationGracePeriodSeconds = 30;
  if (unset(spec.schedulerName)) spec.schedulerName = "default-scheduler";
  // v1 conversion keeps the deprecated serviceAccount alias in step with serviceAccountName.
  if (unset(spec.serviceAccountName) && !unset(spec.serviceAccount)) spec.serviceAccountName = spec.serviceAccount;
  if (!unset(spec.serviceAccountName)) spec.serviceAccount = spec.serviceAccountName;
  for (const c of arr(spec.initContainers)) defaultContainer(c);
  for (const c of arr(spec.containers)) defaultContainer(c);
  for (const c of arr(spec.ephemeralContainers)) defaultContainer(c);
  for (const v of arr(spec.volumes)) defaultVolume(v);
}

/** PodTemplateSpec inside Deployments, StatefulSets, Jobs, ... */
export function defaultPodTemplateSpec(t: any) {
  if (!isObj(t)) return;
  defaultPodSpec(t.spec);
}

export function defaultPodTemplate(o: any) {
  if (!isObj(o)) return;
  defaultPodTemplateSpec(o.template);
}

const computeResources = ["cpu", "memory"];

/** Pod QoS class (pkg/apis/core/v1/helper/qos): Guaranteed, Burstable or BestEffort. */
export function podQOSClass(spec: any): "Guaranteed" | "Burstable" | "BestEffort" {
  const containers = [...arr(spec?.initContainers), ...arr(spec?.containers)];
  const podRes = isObj(spec?.resources) ? spec.resources : undefined;
  const isSupported = (k: string) => computeResources.includes(k) || k.startsWith("hugepages-");
  const sources = podRes && (isObj(podRes.requests) || isObj(podRes.limits)) ? [podRes] : containers.map((c) => c?.resources ?? {});
  let any = false;
  let guaranteed = true;
  for (const r of sources) {
    const req = isObj(r.requests) ? r.requests : {};
    const lim = isObj(r.limits) ? r.limits : {};
    for (const k of Object.keys(req)) if (isSupported(k) && String(req[k]) !== "0") any = true;
    for (const k of Object.keys(lim)) if (isSupported(k) && String(lim[k]) !== "0") any = true;
    for (const k of computeResources) {
      if (lim[k] === undefined) guaranteed = false;
      else if (req[k] !== undefined && String(req[k]) !== String(lim[k])) guaranteed = false;
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

/** SetDefaults_Pod: requests default to limits, enableServiceLinks, host-network ports; plus create-time fields. */
export function defaultPod(o: any) {
  if (!isObj(o)) return;
  if (!isObj(o.spec)) o.spec = {};
  const spec = o.spec;
  for (const c of [...arr(spec.containers), ...arr(spec.initContainers)]) {
    if (!isObj(c) || !isObj(c.resources) || !isObj(c.resources.limits)) continue;
    const req = isObj(c.resources.requests) ? c.resources.requests : {};
    for (const [k, v] of Object.entries(c.resources.limits)) if (req[k] === undefined) req[k] = v;
    if (Object.keys(req).length) c.resources.requests = req;
  }
  if (spec.enableServiceLinks === undefined || spec.enableServiceLinks === null) spec.enableServiceLinks = true;
  defaultPodSpec(spec);
  // Priority admission: no PriorityClass resolved means priority 0 and the default policy.
  if (spec.priority === undefined || spec.priority === null) spec.priority = 0;
  if (unset(spec.preemptionPolicy)) spec.preemptionPolicy = "PreemptLowerPriority";
  if (!isObj(o.status)) o.status = {};
  if (unset(o.status.phase)) o.status.phase = "Pending";
  if (unset(o.status.qosClass)) o.status.qosClass = podQOSClass(spec);
}
