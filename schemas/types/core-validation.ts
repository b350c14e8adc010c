// Validation for the core/v1 kinds in core.ts, after pkg/apis/core/validation/validation.go:
// the important checks with Kubernetes' field paths, cause types and messages.
import type { FieldError } from "../registry";
import {
  byteLen,
  configMapKeyErrors,
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  duplicate,
  forbidden,
  invalid,
  isEmpty,
  isValidIP,
  isValidPortNum,
  notSupported,
  parseQuantity,
  portNameErrors,
  portRangeMessage,
  qualifiedNameErrors,
  quantityFormatMessage,
  required,
  tooLong,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from "../validation";
import { persistentVolumeSourceKeys } from "./core-storage";
import { deepEqual, isObj } from "../helpers/json";

const arr = (v: unknown): any[] => (Array.isArray(v) ? v : []);

/** Object metadata on create, plus identity checks on update. */
function meta(o: any, old: any, namespaced: boolean, kind: "subdomain" | "label" | "dns1035" = "subdomain"): FieldError[] {
  const errs = validateObjectMeta(o?.metadata, namespaced, kind);
  if (old) errs.push(...validateObjectMetaUpdate(o?.metadata, old?.metadata));
  return errs;
}

const portProtocols = ["SCTP", "TCP", "UDP"];
const maxSecretSize = 1024 * 1024;
const maxConfigMapSize = 1024 * 1024;

function checkQuantities(errs: FieldError[], m: unknown, p: string) {
  if (!isObj(m)) return;
  for (const [k, q] of Object.entries(m)) {
    const v = parseQuantity(q);
    if (Number.isNaN(v)) errs.push(invalid(`${p}[${k}]`, q, quantityFormatMessage));
    else if (v < 0) errs.push(invalid(`${p}[${k}]`, String(q), "must be greater than or equal to 0"));
  }
}

// ---- Namespace ------------------------------------------------------------------------------

export function validateNamespace(o: any, old?: any): FieldError[] {
  const errs = meta(o, old, false, "label");
  arr(o?.spec?.finalizers).forEach((f, i) => {
    const s = String(f ?? "");
    for (const m of qualifiedNameErrors(s)) errs.push(invalid(`spec.finalizers[${i}]`, s, m));
    if (!s.includes("/") && s !== "kubernetes")
      errs.push(invalid(`spec.finalizers[${i}]`, s, "name is neither a standard finalizer name nor is it fully qualified"));
  });
  const phase = o?.status?.phase;
  if (!isEmpty(phase) && !["Active", "Terminating"].includes(phase))
    errs.push(notSupported("status.phase", phase, ["Active", "Terminating"]));
  return errs;
}

// ---- Service ----------------------------------------------------------------------------------

const serviceTypes = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

export function validateService(o: any, old?: any): FieldError[] {
  const errs = meta(o, old, true, "dns1035");
  const spec = isObj(o?.spec) ? o.spec : {};
  const type = spec.type ?? "ClusterIP";
  const headless = spec.clusterIP === "None";

  if (old) {
    // The REST layer keeps allocated values the client did not send (patchAllocatedValues).
    const os = old.spec ?? {};
    if (type !== "ExternalName" && os.type !== "ExternalName") {
      if (isEmpty(spec.clusterIP) && !isEmpty(os.clusterIP)) spec.clusterIP = os.clusterIP;
      if (arr(spec.clusterIPs).length === 0 && arr(os.clusterIPs).length) spec.clusterIPs = [...os.clusterIPs];
      if (!isEmpty(os.clusterIP) && spec.clusterIP !== os.clusterIP)
        errs.push(invalid("spec.clusterIPs[0]", spec.clusterIP, "may not change once set"));
    }
    if ((type === "NodePort" || type === "LoadBalancer") && (os.type === "NodePort" || os.type === "LoadBalancer")) {
      for (const p of arr(spec.ports)) {
        if (!isObj(p) || p.nodePort) continue;
        const prev = arr(os.ports).find((q) => q?.port === p.port && (q?.protocol ?? "TCP") === (p.protocol ?? "TCP"));
        if (prev?.nodePort) p.nodePort = prev.nodePort;
      }
      if (!spec.healthCheckNodePort && os.healthCheckNodePort && spec.externalTrafficPolicy === "Local")
        spec.healthCheckNodePort = os.healthCheckNodePort;
    }
  }

  if (!serviceTypes.includes(type)) errs.push(notSupported("spec.type", type, serviceTypes));
  const ports = arr(spec.ports);
  if (ports.length === 0 && !headless && type !== "ExternalName") errs.push(required("spec.ports"));
  const names = new Set<string>();
  const keys = new Set<string>();
  ports.forEach((p, i) => {
    const pp = `spec.ports[${i}]`;
    if (!isObj(p)) return errs.push(required(pp));
    if (ports.length > 1 && isEmpty(p.name)) errs.push(required(`${pp}.name`));
    if (!isEmpty(p.name)) {
      for (const m of dns1123LabelErrors(String(p.name))) errs.push(invalid(`${pp}.name`, p.name, m));
      if (names.has(p.name)) errs.push(duplicate(`${pp}.name`, p.name));
      names.add(p.name);
    }
    if (!isValidPortNum(p.port)) errs.push(invalid(`${pp}.port`, p.port ?? 0, portRangeMessage));
    if (isEmpty(p.protocol)) errs.push(required(`${pp}.protocol`));
    else if (!portProtocols.includes(p.protocol)) errs.push(notSupported(`${pp}.protocol`, p.protocol, portProtocols));
    const tp = p.targetPort;
    if (typeof tp === "number") {
      if (!isValidPortNum(tp)) errs.push(invalid(`${pp}.targetPort`, tp, portRangeMessage));
    } else if (typeof tp === "string") {
      for (const m of portNameErrors(tp)) errs.push(invalid(`${pp}.targetPort`, tp, m));
    }
    if (p.nodePort !== undefined && p.nodePort !== null && p.nodePort !== 0) {
      if (type === "ClusterIP" || type === "ExternalName")
        errs.push(forbidden(`${pp}.nodePort`, `may not be used when \`type\` is '${type}'`));
      else if (!isValidPortNum(p.nodePort)) errs.push(invalid(`${pp}.nodePort`, p.nodePort, portRangeMessage));
    }
    const key = `${p.port}/${p.protocol}`;
    if (keys.has(key)) errs.push(duplicate(pp, { port: p.port, protocol: p.protocol }));
    keys.add(key);
    if (!isEmpty(p.appProtocol))
      for (const m of qualifiedNameErrors(String(p.appProtocol))) errs.push(invalid(`${pp}.appProtocol`, p.appProtocol, m));
  });

  if (type === "ExternalName") {
    if (!isEmpty(spec.clusterIP)) errs.push(forbidden("spec.clusterIPs", "may not be set for ExternalName services"));
    if (isEmpty(spec.externalName)) errs.push(required("spec.externalName"));
    else {
      const en = String(spec.externalName).replace(/\.$/, "");
      for (const m of dns1123SubdomainErrors(en)) errs.push(invalid("spec.externalName", spec.externalName, m));
    }
  } else {
    const ips = arr(spec.clusterIPs).length ? arr(spec.clusterIPs) : isEmpty(spec.clusterIP) ? [] : [spec.clusterIP];
    ips.forEach((ip, i) => {
      if (ip === "None") {
        if (i > 0 || ips.length > 1) errs.push(invalid(`spec.clusterIPs[${i}]`, ip, "`None` may not be used with other IPs"));
      } else if (!isValidIP(String(ip)))
        errs.push(invalid(`spec.clusterIPs[${i}]`, ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
    });
    if (!isEmpty(spec.clusterIP) && arr(spec.clusterIPs).length && spec.clusterIPs[0] !== spec.clusterIP)
      errs.push(invalid("spec.clusterIPs", spec.clusterIPs, "first value must match `clusterIP`"));
    if (arr(spec.clusterIPs).length > 2) errs.push(invalid("spec.clusterIPs", spec.clusterIPs, "may only hold up to 2 values"));
  }
  if (!isEmpty(spec.sessionAffinity) && !["ClientIP", "None"].includes(spec.sessionAffinity))
    errs.push(notSupported("spec.sessionAffinity", spec.sessionAffinity, ["ClientIP", "None"]));
  const t = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
  if (spec.sessionAffinity === "ClientIP" && t !== undefined && (typeof t !== "number" || t <= 0 || t > 86400))
    errs.push(invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", t, "must be greater than 0 and less than 86400"));
  if (!isEmpty(spec.externalTrafficPolicy)) {
    if (type !== "NodePort" && type !== "LoadBalancer")
      errs.push(invalid("spec.externalTrafficPolicy", spec.externalTrafficPolicy, "may only be set for externally-accessible services"));
    else if (!["Cluster", "Local"].includes(spec.externalTrafficPolicy))
      errs.push(notSupported("spec.externalTrafficPolicy", spec.externalTrafficPolicy, ["Cluster", "Local"]));
  }
  if (!isEmpty(spec.internalTrafficPolicy) && !["Cluster", "Local"].includes(spec.internalTrafficPolicy))
    errs.push(notSupported("spec.internalTrafficPolicy", spec.internalTrafficPolicy, ["Cluster", "Local"]));
  if (!isEmpty(spec.ipFamilyPolicy) && !["PreferDualStack", "RequireDualStack", "SingleStack"].includes(spec.ipFamilyPolicy))
    errs.push(notSupported("spec.ipFamilyPolicy", spec.ipFamilyPolicy, ["PreferDualStack", "RequireDualStack", "SingleStack"]));
  arr(spec.ipFamilies).forEach((f, i) => {
    if (!["IPv4", "IPv6"].includes(f)) errs.push(notSupported(`spec.ipFamilies[${i}]`, f, ["IPv4", "IPv6"]));
  });
  arr(spec.externalIPs).forEach((ip, i) => {
    if (!isValidIP(String(ip))) errs.push(invalid(`spec.externalIPs[${i}]`, ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
  });
  if (isObj(spec.selector))
    for (const k of Object.keys(spec.selector)) for (const m of qualifiedNameErrors(k)) errs.push(invalid("spec.selector", k, m));
  if (spec.allocateLoadBalancerNodePorts !== undefined && type !== "LoadBalancer")
    errs.push(forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"));
  if (!isEmpty(spec.loadBalancerClass) && type !== "LoadBalancer")
    errs.push(forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"));
  return errs;
}

// ---- Endpoints ------------------------------------------------------------------------------

export function validateEndpoints(o: any, old?: any): FieldError[] {
  const errs = meta(o, old, true);
  arr(o?.subsets).forEach((sub, i) => {
    const sp = `subsets[${i}]`;
    for (const key of ["addresses", "notReadyAddresses"])
      arr(sub?.[key]).forEach((a, j) => {
        const ap = `${sp}.${key}[${j}]`;
        if (!isValidIP(String(a?.ip ?? ""))) errs.push(invalid(`${ap}.ip`, a?.ip ?? "", "must be a valid IP address"));
        if (!isEmpty(a?.hostname)) for (const m of dns1123LabelErrors(String(a.hostname))) errs.push(invalid(`${ap}.hostname`, a.hostname, m));
        if (!isEmpty(a?.nodeName)) for (const m of dns1123SubdomainErrors(String(a.nodeName))) errs.push(invalid(`${ap}.nodeName`, a.nodeName, m));
      });
    const ports = arr(sub?.ports);
    ports.forEach((p, j) => {
      const pp = `${sp}.ports[${j}]`;
      if (ports.length > 1 && isEmpty(p?.name)) errs.push(required(`${pp}.name`));
      if (!isEmpty(p?.name)) for (const m of dns1123LabelErrors(String(p.name))) errs.push(invalid(`${pp}.name`, p.name, m));
      if (!isValidPortNum(p?.port)) errs.push(invalid(`${pp}.port`, p?.port ?? 0, portRangeMessage));
      if (isEmpty(p?.protocol)) errs.push(required(`${pp}.protocol`));
      else if (!portProtocols.includes(p.protocol)) errs.push(notSupported(`${pp}.protocol`, p.protocol, portProtocols));
    });
  });
  return errs;
}

// ---- ConfigMap and Secret ------------------------------------------------------------------------

function immutableData(errs: FieldError[], o: any, old: any, fields: string[]) {
  if (old?.immutable !== true) return;
  if (o?.immutable !== true) errs.push(forbidden("immutable", "field is immutable when `immutable` is set"));
  for (const f of fields)
    if (!deepEqual(o?.[f] ?? {}, old?.[f] ?? {})) errs.push(forbidden(f, "field is immutable when `immutable` is set"));
}

export function validateConfigMap(o: any, old?: any): FieldError[] {
  const errs = meta(o, old, true);
  let total = 0;
  const data = isObj(o?.data) ? o.data : {};
  const bin = isObj(o?.binaryData) ? o.binaryData : {};
  for (const [k, v] of Object.entries(data)) {
    for (const m of configMapKeyErrors(k)) errs.push(invalid(`data[${k}]`, k, m));
    total += byteLen(String(v ?? ""));
  }
  for (const [k, v] of Object.entries(bin)) {
    for (const m of configMapKeyErrors(k)) errs.push(invalid(`binaryData[${k}]`, k, m));
    if (Object.hasOwn(data, k)) errs.push(invalid(`binaryData[${k}]`, k, "duplicate of key present in data"));
    total += Math.floor((String(v ?? "").replace(/=+$/, "").length * 3) / 4);
  }
  if (total > maxConfigMapSize) errs.push(tooLong("", "", maxConfigMapSize));
  if (old) immutableData(errs, o, old, ["data", "binaryData"]);
  return errs;
}

const base64Re = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Index of the first byte that makes a base64 string undecodable (Go's "illegal base64 data at input byte N"), or -1. */
function base64ErrorAt(s: string): number {
  if (base64Re.test(s)) return -1;
  for (let i = 0; i < s.length; i++) if (!/[A-Za-z0-9+/=]/.test(s[i]!)) return i;
  const eq = s.indexOf("=");
  if (eq >= 0 && eq < s.length - 2) return eq;
  return s.length - (s.length % 4 || 4);
}

export function validateSecret(o: any, old?: any): FieldError[] {
  const errs = meta(o, old, true);
  const data: Record<string, unknown> = isObj(o?.data) ? o.data : {};
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    for (const m of configMapKeyErrors(k)) errs.push(invalid(`data[${k}]`, k, m));
    const s = String(v ?? "");
    const bad = base64ErrorAt(s);
    if (bad >= 0) errs.push(invalid(`data[${k}]`, "<secret contents redacted>", `illegal base64 data at input byte ${bad}`));
    else total += Buffer.from(s, "base64").length;
  }
  if (total > maxSecretSize) errs.push(tooLong("data", "", maxSecretSize));
  const type = o?.type ?? "Opaque";
  const need = (key: string) => {
    if (!(key in data)) errs.push(required(`data[${key}]`));
  };
  const decoded = (key: string) => (typeof data[key] === "string" ? Buffer.from(String(data[key]), "base64").toString("utf8") : "");
  switch (type) {
    case "kubernetes.io/service-account-token":
      if (isEmpty(o?.metadata?.annotations?.["kubernetes.io/service-account.name"]))
        errs.push(required("metadata.annotations[kubernetes.io/service-account.name]"));
      break;
    case "kubernetes.io/dockercfg":
      need(".dockercfg");
      if (".dockercfg" in data) {
        try {
          JSON.parse(decoded(".dockercfg"));
        } catch (e) {
          errs.push(invalid("data[.dockercfg]", "<secret contents redacted>", String((e as Error).message)));
        }
      }
      break;
    case "kubernetes.io/dockerconfigjson":
      need(".dockerconfigjson");
      if (".dockerconfigjson" in data) {
        try {
          JSON.parse(decoded(".dockerconfigjson"));
        } catch (e) {
          errs.push(invalid("data[.dockerconfigjson]", "<secret contents redacted>", String((e as Error).message)));
        }
      }
      break;
    case "kubernetes.io/basic-auth":
      if (!("username" in data) && !("password" in data))
        errs.push(required("data[username]", "either username or password is required for kubernetes.io/basic-auth secret type"));
      break;
    case "kubernetes.io/ssh-auth":
      if (!decoded("ssh-privatekey")) errs.push(required("data[ssh-privatekey]"));
      break;
    case "kubernetes.io/tls":
      need("tls.crt");
      need("tls.key");
      break;
    default:
      for (const m of qualifiedNameErrors(String(type))) errs.push(invalid("type", type, m));
  }
  if (old) {
    if ((old.type ?? "Opaque") !== type) errs.push(invalid("type", type, "field is immutable"));
    immutableData(errs, o, old, ["data"]);
  }
  return errs;
}

// ---- Node -----------------------------------------------------------------------------------

const cidrRe = /^([0-9.]+|[0-9a-fA-F:.]+)\/([0-9]{1,3})$/;
function isValidCIDR(s: string): boolean {
  const m = cidrRe.exec(s);
  if (!m || !isValidIP(m[1]!)) return false;
  return Number(m[2]) <= (m[1]!.includes(":") ? 128 : 32);
}

export function validateTaints(taints: unknown, p: string): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  const effects = ["NoExecute", "NoSchedule", "PreferNoSchedule"];
  arr(taints).forEach((t, i) => {
    const tp = `${p}[${i}]`;
    if (isEmpty(t?.key)) errs.push(required(`${tp}.key`));
    else for (const m of qualifiedNameErrors(String(t.key))) errs.push(invalid(`${tp}.key`, t.key, m));
    if (!isEmpty(t?.value)) {
      const v = String(t.value);
      if (v.length > 63 || !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v))
        errs.push(invalid(`${tp}.value`, v, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"));
    }
    if (isEmpty(t?.effect)) errs.push(required(`${tp}.effect`));
    else if (!effects.includes(t.effect)) errs.push(notSupported(`${tp}.effect`, t.effect, effects));
    const key = `${t?.key}\u0000${t?.effect}`;
    if (seen.has(key)) errs.push(duplicate(tp, `${t?.key}:${t?.effect}`));
    seen.add(key);
  });
  return errs;
}

export function validateNode(o: any, old?: any): FieldError[] {
  const errs = meta(o, old, false);
  const spec = isObj(o?.spec) ? o.spec : {};
  const cidrs = arr(spec.podCIDRs);
  if (!isEmpty(spec.podCIDR) && !isValidCIDR(String(spec.podCIDR))) errs.push(invalid("spec.podCIDR", spec.podCIDR, "must be a valid CIDR"));
  cidrs.forEach((c, i) => {
    if (!isValidCIDR(String(c))) errs.push(invalid(`spec.podCIDRs[${i}]`, c, "must be a valid CIDR"));
  });
  if (cidrs.length && !isEmpty(spec.podCIDR) && cidrs[0] !== spec.podCIDR)
    errs.push(invalid("spec.podCIDRs", cidrs, "the first entry must match spec.podCIDR"));
  if (cidrs.length > 2) errs.push(invalid("spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family"));
  errs.push(...validateTaints(spec.taints, "spec.taints"));
  checkQuantities(errs, o?.status?.capacity, "status.capacity");
  checkQuantities(errs, o?.status?.allocatable, "status.allocatable");
  if (old) {
    const os = old.spec ?? {};
    if (!isEmpty(os.podCIDR) && spec.podCIDR !== os.podCIDR)
      errs.push(forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'));
    if (!isEmpty(os.providerID) && spec.providerID !== os.providerID)
      errs.push(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'));
  }
  return errs;
}

// ---- Event ----------------------------------------------------------------------------------

export function validateEvent(o: any, old?: any): FieldError[] {
  const errs = meta(o, old, true);
  const io = o?.involvedObject;
  if (!isObj(io)) errs.push(required("involvedObject"));
  // Namespaced involved objects must live in the event's namespace.
  else if (!isEmpty(io.namespace) && !isEmpty(o?.metadata?.namespace) && io.namespace !== o.metadata.namespace && io.kind !== "Namespace")
    errs.push(invalid("involvedObject.namespace", io.namespace, "does not match event.namespace"));
  if (!isEmpty(o?.type) && !["Normal", "Warning"].includes(o.type)) errs.push(notSupported("type", o.type, ["Normal", "Warning"]));
  if (typeof o?.reportingInstance === "string" && o.reportingInstance.length > 128)
    errs.push(invalid("reportingInstance", "", "can have at most 128 characters"));
  if (typeof o?.action === "string" && o.action.length > 128) errs.push(invalid("action", "", "can have at most 128 characters"));
  if (typeof o?.reason === "string" && o.reason.length > 128) errs.push(invalid("reason", "", "can have at most 128 characters"));
  if (typeof o?.message === "string" && byteLen(o.message) > 4096) errs.push(invalid("message", "", "can have at most 4096 characters"));
  return errs;
}

// ---- ServiceAccount ---------------------------------------------------------------------------

export function validateServiceAccount(o: any, old?: any): FieldError[] {
  return meta(o, old, true);
}

// ---- PersistentVolume(Claim) ------------------------------------------------------------------

const accessModes = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];
const volumeModes = ["Block", "Filesystem"];

function validateAccessModes(errs: FieldError[], modes: unknown, p: string, requiredDetail?: string) {
  const list = arr(modes);
  if (list.length === 0) errs.push(required(p, requiredDetail));
  for (const m of list) if (!accessModes.includes(m)) errs.push(notSupported(p, m, accessModes));
  if (list.includes("ReadWriteOncePod") && list.length > 1)
    errs.push(forbidden(p, "may not use ReadWriteOncePod with other access modes"));
}

export function validatePersistentVolume(o: any, old?: any): FieldError[] {
  const errs = meta(o, old, false);
  const spec = isObj(o?.spec) ? o.spec : {};
  validateAccessModes(errs, spec.accessModes, "spec.accessModes");
  if (!isObj(spec.capacity) || Object.keys(spec.capacity).length === 0) errs.push(required("spec.capacity"));
  else {
    if (!("storage" in spec.capacity) || Object.keys(spec.capacity).length !== 1)
      errs.push(notSupported("spec.capacity", Object.keys(spec.capacity), ["storage"]));
    checkQuantities(errs, spec.capacity, "spec.capacity");
  }
  const sources = persistentVolumeSourceKeys.filter((k) => spec[k] !== undefined && spec[k] !== null);
  if (sources.length === 0) errs.push(required("spec", "must specify a volume type"));
  for (const k of sources.slice(1)) errs.push(forbidden(`spec.${k}`, "may not specify more than 1 volume type"));
  if (isObj(spec.hostPath)) {
    if (isEmpty(spec.hostPath.path)) errs.push(required("spec.hostPath.path"));
    else if (String(spec.hostPath.path).split("/").includes(".."))
      errs.push(invalid("spec.hostPath.path", spec.hostPath.path, "must not contain '..'"));
  }
  if (isObj(spec.local)) {
    if (isEmpty(spec.local.path)) errs.push(required("spec.local.path"));
    if (!isObj(spec.nodeAffinity)) errs.push(required("spec.nodeAffinity", "Local volume requires node affinity"));
  }
  if (isObj(spec.nfs)) {
    if (isEmpty(spec.nfs.server)) errs.push(required("spec.nfs.server"));
    if (isEmpty(spec.nfs.path)) errs.push(required("spec.nfs.path"));
  }
  if (isObj(spec.csi)) {
    if (isEmpty(spec.csi.driver)) errs.push(required("spec.csi.driver"));
    if (isEmpty(spec.csi.volumeHandle)) errs.push(required("spec.csi.volumeHandle"));
  }
  const rp = spec.persistentVolumeReclaimPolicy;
  if (!isEmpty(rp) && !["Delete", "Recycle", "Retain"].includes(rp))
    errs.push(notSupported("spec.persistentVolumeReclaimPolicy", rp, ["Delete", "Recycle", "Retain"]));
  if (!isEmpty(spec.volumeMode) && !volumeModes.includes(spec.volumeMode)) errs.push(notSupported("spec.volumeMode", spec.volumeMode, volumeModes));
  if (!isEmpty(spec.storageClassName))
    for (const m of dns1123SubdomainErrors(String(spec.storageClassName))) errs.push(invalid("spec.storageClassName", spec.storageClassName, m));
  if (old) {
    const os = old.spec ?? {};
    const srcChanged = persistentVolumeSourceKeys.some((k) => !deepEqual(spec[k], os[k]));
    if (srcChanged) errs.push(forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation"));
    if ((spec.volumeMode ?? "Filesystem") !== (os.volumeMode ?? "Filesystem"))
      errs.push(invalid("spec.volumeMode", spec.volumeMode, "field is immutable"));
    if (isObj(os.nodeAffinity) && !deepEqual(spec.nodeAffinity, os.nodeAffinity))
      errs.push(invalid("spec.nodeAffinity", spec.nodeAffinity ?? null, "field is immutable"));
  }
  const phase = o?.status?.phase;
  const phases = ["Available", "Bound", "Failed", "Pending", "Released"];
  if (!isEmpty(phase) && !phases.includes(phase)) errs.push(notSupported("status.phase", phase, phases));
  return errs;
}

export function validatePersistentVolumeClaimSpec(spec: any, p: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!isObj(spec)) return [required(p)];
  validateAccessModes(errs, spec.accessModes, `${p}.accessModes`, "at least 1 access mode is required");
  const storage = spec.resources?.requests?.storage;
  if (storage === undefined || storage === null) errs.push(required(`${p}.resources[storage]`));
  else {
    const v = parseQuantity(storage);
    if (Number.isNaN(v)) errs.push(invalid(`${p}.resources.requests[storage]`, storage, quantityFormatMessage));
    else if (v <= 0) errs.push(invalid(`${p}.resources.requests[storage]`, String(storage), "must be greater than zero"));
  }
  checkQuantities(errs, spec.resources?.limits, `${p}.resources.limits`);
  if (!isEmpty(spec.volumeMode) && !volumeModes.includes(spec.volumeMode)) errs.push(notSupported(`${p}.volumeMode`, spec.volumeMode, volumeModes));
  if (!isEmpty(spec.storageClassName))
    for (const m of dns1123SubdomainErrors(String(spec.storageClassName))) errs.push(invalid(`${p}.storageClassName`, spec.storageClassName, m));
  for (const k of ["dataSource", "dataSourceRef"]) {
    const ds = spec[k];
    if (!isObj(ds)) continue;
    if (isEmpty(ds.name)) errs.push(required(`${p}.${k}.name`));
    if (isEmpty(ds.kind)) errs.push(required(`${p}.${k}.kind`));
  }
  return errs;
}

export function validatePersistentVolumeClaim(o: any, old?: any): FieldError[] {
  const errs = meta(o, old, true);
  errs.push(...validatePersistentVolumeClaimSpec(o?.spec, "spec"));
  if (old) {
    // Only resources.requests (of a bound claim), volumeAttributesClassName, and a first
    // volumeName (set by the binder) may change.
    const spec = structuredClone(o?.spec ?? {});
    const os = old.spec ?? {};
    const bound = o?.status?.phase === "Bound" || old?.status?.phase === "Bound";
    if (bound && isObj(spec.resources)) {
      spec.resources = structuredClone(spec.resources);
      if (isObj(spec.resources.requests)) spec.resources.requests = { ...spec.resources.requests, storage: os.resources?.requests?.storage };
    }
    spec.volumeAttributesClassName = os.volumeAttributesClassName;
    if (isEmpty(os.volumeName)) spec.volumeName = os.volumeName;
    if (!deepEqual(spec, os))
      errs.push(forbidden("spec", "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"));
    const phase = o?.status?.phase;
    if (!isEmpty(phase) && !["Bound", "Lost", "Pending"].includes(phase)) errs.push(notSupported("status.phase", phase, ["Bound", "Lost", "Pending"]));
  }
  return errs;
}

// ---- ResourceQuota and LimitRange ---------------------------------------------------------------

const quotaScopes = ["BestEffort", "CrossNamespacePodAffinity", "NotBestEffort", "NotTerminating", "PriorityClass", "Terminating", "VolumeAttributesClass"];

export function validateResourceQuota(o: any, old?: any): FieldError[] {
  const errs = meta(o, old, true);
  checkQuantities(errs, o?.spec?.hard, "spec.hard");
  checkQuantities(errs, o?.status?.hard, "status.hard");
  checkQuantities(errs, o?.status?.used, "status.used");
  arr(o?.spec?.scopes).forEach((s, i) => {
    if (!quotaScopes.includes(s)) errs.push(notSupported(`spec.scopes[${i}]`, s, quotaScopes));
  });
  arr(o?.spec?.scopeSelector?.matchExpressions).forEach((r, i) => {
    const rp = `spec.scopeSelector.matchExpressions[${i}]`;
    if (!quotaScopes.includes(r?.scopeName)) errs.push(notSupported(`${rp}.scopeName`, r?.scopeName ?? "", quotaScopes));
    if (!["DoesNotExist", "Exists", "In", "NotIn"].includes(r?.operator))
      errs.push(notSupported(`${rp}.operator`, r?.operator ?? "", ["DoesNotExist", "Exists", "In", "NotIn"]));
  });
  return errs;
}

export function validateLimitRange(o: any, old?: any): FieldError[] {
  const errs = meta(o, old, true);
  const types = ["Container", "PersistentVolumeClaim", "Pod"];
  arr(o?.spec?.limits).forEach((item, i) => {
    const ip = `spec.limits[${i}]`;
    if (!types.includes(item?.type)) errs.push(notSupported(`${ip}.type`, item?.type ?? "", types));
    for (const k of ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"]) checkQuantities(errs, item?.[k], `${ip}.${k}`);
    const q = (k: string, r: string) => parseQuantity(item?.[k]?.[r]);
    for (const r of Object.keys(isObj(item?.min) ? item.min : {})) {
      if (!Number.isNaN(q("max", r)) && q("min", r) > q("max", r))
        errs.push(invalid(`${ip}.min[${r}]`, String(item.min[r]), `min value ${item.min[r]} is greater than max value ${item.max[r]}`));
    }
    for (const r of Object.keys(isObj(item?.defaultRequest) ? item.defaultRequest : {})) {
      const dr = q("defaultRequest", r);
      if (!Number.isNaN(q("max", r)) && dr > q("max", r))
        errs.push(invalid(`${ip}.defaultRequest[${r}]`, String(item.defaultRequest[r]), `default request value ${item.defaultRequest[r]} is greater than max value ${item.max[r]}`));
      if (!Number.isNaN(q("min", r)) && dr < q("min", r))
        errs.push(invalid(`${ip}.defaultRequest[${r}]`, String(item.defaultRequest[r]), `min value ${item.min[r]} is greater than default request value ${item.defaultRequest[r]}`));
      if (!Number.isNaN(q("default", r)) && dr > q("default", r))
        errs.push(invalid(`${ip}.defaultRequest[${r}]`, String(item.defaultRequest[r]), `default request value ${item.defaultRequest[r]} is greater than default limit value ${item.default[r]}`));
    }
    for (const r of Object.keys(isObj(item?.default) ? item.default : {})) {
      if (!Number.isNaN(q("max", r)) && q("default", r) > q("max", r))
        errs.push(invalid(`${ip}.default[${r}]`, String(item.default[r]), `default value ${item.default[r]} is greater than max value ${item.max[r]}`));
    }
    if (item?.type === "Pod" && (isObj(item.default) || isObj(item.defaultRequest)))
      errs.push(forbidden(`${ip}.default`, "may not be specified when `type` is 'Pod'"));
  });
  return errs;
}
