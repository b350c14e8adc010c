// The smaller groups: storage.k8s.io/v1 StorageClass, coordination.k8s.io/v1 Lease,
// discovery.k8s.io/v1 EndpointSlice, autoscaling/v2 HorizontalPodAutoscaler (and the autoscaling/v1
// Scale used by /scale subresources), and the create-only review kinds of authorization.k8s.io/v1
// and authentication.k8s.io/v1 (including TokenRequest, the body of serviceaccounts/token).
// Field names and protobuf numbers follow the upstream generated.proto of each group.
import { F, atomicList, bool, int32, int64, keyedList, map, microTime, obj, quantity, setList, str, strEnum, time } from "../dsl";
import type { FieldError, ResourceDef } from "../registry";
import {
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  duplicate,
  forbidden,
  invalid,
  isIPv4,
  isIPv6,
  isValidPortNum,
  notSupported,
  portRangeMessage,
  qualifiedNameErrors,
  required,
  tooLong,
} from "../validation";
import { LabelSelector, LabelSelectorRequirement, typeMetaFields } from "./meta";
import { ObjectReference, TopologySelectorTerm } from "./pod";
import { ensureObj, metaErrors } from "./apps";
import { deepEqual, isObj } from "../helpers/json";

const conditionStatus = strEnum(["True", "False", "Unknown"]);

// =============================================================================================
// storage.k8s.io/v1 StorageClass

export const StorageClass = obj("io.k8s.api.storage.v1.StorageClass", () => ({
  ...typeMetaFields(),
  provisioner: F(str, 2, { required: true }),
  parameters: F(map(str), 3),
  reclaimPolicy: F(strEnum(["Delete", "Recycle", "Retain"]), 4),
  mountOptions: F(atomicList(str), 5),
  allowVolumeExpansion: F(bool, 6),
  volumeBindingMode: F(strEnum(["Immediate", "WaitForFirstConsumer"]), 7),
  allowedTopologies: F(atomicList(TopologySelectorTerm), 8),
}));

function defaultStorageClass(o: any): void {
  if (!o.reclaimPolicy) o.reclaimPolicy = "Delete";
  if (!o.volumeBindingMode) o.volumeBindingMode = "Immediate";
}

function validateStorageClass(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, false);
  const prov = o?.provisioner ?? "";
  if (!prov) errs.push(required("provisioner"));
  else for (const m of qualifiedNameErrors(String(prov).toLowerCase())) errs.push(invalid("provisioner", String(prov).toLowerCase(), m));
  const params = isObj(o?.parameters) ? o.parameters : {};
  const keys = Object.keys(params);
  if (keys.length > 512) errs.push(tooLong("parameters", "", 512));
  else {
    let size = 0;
    for (const k of keys) {
      if (k.length < 1) errs.push(invalid("parameters", k, "field can not be empty."));
      size += k.length + String(params[k] ?? "").length;
    }
    if (size > 256 * 1024) errs.push(tooLong("parameters", "", 256 * 1024));
  }
  if (o?.reclaimPolicy && !["Delete", "Retain"].includes(o.reclaimPolicy))
    errs.push(notSupported("reclaimPolicy", o.reclaimPolicy, ["Delete", "Retain"]));
  if (!o?.volumeBindingMode) errs.push(required("volumeBindingMode"));
  else if (!["Immediate", "WaitForFirstConsumer"].includes(o.volumeBindingMode))
    errs.push(notSupported("volumeBindingMode", o.volumeBindingMode, ["Immediate", "WaitForFirstConsumer"]));
  if (Array.isArray(o?.allowedTopologies)) {
    o.allowedTopologies.forEach((t: any, i: number) => {
      const exprs = t?.matchLabelExpressions;
      const p = `allowedTopologies[${i}].matchLabelExpressions`;
      if (!Array.isArray(exprs) || exprs.length === 0) errs.push(required(p, "must have at least one label expression"));
      else
        exprs.forEach((e: any, j: number) => {
          for (const m of qualifiedNameErrors(String(e?.key ?? ""))) errs.push(invalid(`${p}[${j}].key`, e?.key ?? "", m));
          if (!Array.isArray(e?.values) || e.values.length === 0)
            errs.push(required(`${p}[${j}].values`, "must specify as least one value"));
        });
    });
  }
  if (old) {
    if (!deepEqual(o?.parameters ?? {}, old?.parameters ?? {})) errs.push(forbidden("parameters", "updates to parameters are forbidden."));
    if ((o?.provisioner ?? "") !== (old?.provisioner ?? "")) errs.push(forbidden("provisioner", "updates to provisioner are forbidden."));
    if ((o?.reclaimPolicy ?? "") !== (old?.reclaimPolicy ?? "")) errs.push(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."));
  }
  return errs;
}

// =============================================================================================
// coordination.k8s.io/v1 Lease

export const LeaseSpec = obj("io.k8s.api.coordination.v1.LeaseSpec", () => ({
  holderIdentity: F(str, 1),
  leaseDurationSeconds: F(int32, 2),
  acquireTime: F(microTime, 3),
  renewTime: F(microTime, 4),
  leaseTransitions: F(int32, 5),
  strategy: F(str, 6),
  preferredHolder: F(str, 7),
}));

export const Lease = obj("io.k8s.api.coordination.v1.Lease", () => ({
  ...typeMetaFields(),
  spec: F(LeaseSpec, 2),
}));

function validateLease(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, true);
  const spec = o?.spec ?? {};
  if (typeof spec.leaseDurationSeconds === "number" && spec.leaseDurationSeconds <= 0)
    errs.push(invalid("spec.leaseDurationSeconds", spec.leaseDurationSeconds, "must be greater than 0"));
  if (typeof spec.leaseTransitions === "number" && spec.leaseTransitions < 0)
    errs.push(invalid("spec.leaseTransitions", spec.leaseTransitions, "must be greater than or equal to 0"));
  if (spec.preferredHolder && !spec.strategy)
    errs.push(forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"));
  return errs;
}

// =============================================================================================
// discovery.k8s.io/v1 EndpointSlice

export const EndpointConditions = obj("io.k8s.api.discovery.v1.EndpointConditions", () => ({
  ready: F(bool, 1),
  serving: F(bool, 2),
  terminating: F(bool, 3),
}));

export const ForZone = obj("io.k8s.api.discovery.v1.ForZone", () => ({
  name: F(str, 1, { required: true }),
}));

export const ForNode = obj("io.k8s.api.discovery.v1.ForNode", () => ({
  name: F(str, 1, { required: true }),
}));

export const EndpointHints = obj("io.k8s.api.discovery.v1.EndpointHints", () => ({
  forZones: F(atomicList(ForZone), 1),
  forNodes: F(atomicList(ForNode), 2),
}));

export const Endpoint = obj("io.k8s.api.discovery.v1.Endpoint", () => ({
  addresses: F(setList(str), 1, { required: true }),
  conditions: F(EndpointConditions, 2),
  hostname: F(str, 3),
  targetRef: F(ObjectReference, 4),
  deprecatedTopology: F(map(str), 5),
  nodeName: F(str, 6),
  zone: F(str, 7),
  hints: F(EndpointHints, 8),
}));

export const EndpointPort = obj("io.k8s.api.discovery.v1.EndpointPort", () => ({
  name: F(str, 1),
  protocol: F(strEnum(["SCTP", "TCP", "UDP"]), 2),
  port: F(int32, 3),
  appProtocol: F(str, 4),
}));

export const EndpointSlice = obj("io.k8s.api.discovery.v1.EndpointSlice", () => ({
  ...typeMetaFields(),
  addressType: F(strEnum(["FQDN", "IPv4", "IPv6"]), 4, { required: true }),
  endpoints: F(atomicList(Endpoint), 2, { required: true }),
  ports: F(atomicList(EndpointPort), 3),
}));

function defaultEndpointSlice(o: any): void {
  if (Array.isArray(o?.ports))
    for (const p of o.ports) {
      if (!isObj(p)) continue;
      p.name ??= "";
      p.protocol ??= "TCP";
    }
}

function specialIPError(ip: string): string | undefined {
  if (ip === "0.0.0.0" || ip === "::") return `may not be unspecified (${ip})`;
  if (/^127\./.test(ip) || ip === "::1") return "may not be in the loopback range (127.0.0.0/8, ::1/128)";
  if (/^169\.254\./.test(ip) || /^fe[89ab][0-9a-f]?:/i.test(ip)) return "may not be in the link-local range (169.254.0.0/16, fe80::/10)";
  if (/^224\.0\.0\./.test(ip) || /^ff02:/i.test(ip)) return "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)";
  return undefined;
}

function validateEndpointSlice(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, true);
  const at = o?.addressType;
  if (!at) errs.push(required("addressType"));
  else if (!["IPv4", "IPv6", "FQDN"].includes(at)) errs.push(notSupported("addressType", at, ["IPv4", "IPv6", "FQDN"]));
  const eps = Array.isArray(o?.endpoints) ? o.endpoints : [];
  if (eps.length > 1000) errs.push({ field: "endpoints", type: "FieldValueTooLong", message: `Too many: ${eps.length}: must have at most 1000 items` });
  eps.forEach((ep: any, i: number) => {
    const p = `endpoints[${i}]`;
    const addrs = Array.isArray(ep?.addresses) ? ep.addresses : [];
    if (addrs.length === 0) errs.push(required(`${p}.addresses`, "must contain at least 1 address"));
    else if (addrs.length > 100)
      errs.push({ field: `${p}.addresses`, type: "FieldValueTooLong", message: `Too many: ${addrs.length}: must have at most 100 items` });
    addrs.forEach((a: any, j: number) => {
      const ap = `${p}.addresses[${j}]`;
      const s = String(a);
      if (at === "IPv4") {
        if (!isIPv4(s)) errs.push(invalid(ap, s, "must be a valid IPv4 address"));
        else if (specialIPError(s)) errs.push(invalid(ap, s, specialIPError(s)));
      } else if (at === "IPv6") {
        if (!isIPv6(s)) errs.push(invalid(ap, s, "must be a valid IPv6 address"));
        else if (specialIPError(s.toLowerCase())) errs.push(invalid(ap, s, specialIPError(s.toLowerCase())));
      } else if (at === "FQDN") {
        if (!s.includes(".")) errs.push(invalid(ap, s, "should be a domain with at least two segments separated by dots"));
        else for (const m of dns1123SubdomainErrors(s)) errs.push(invalid(ap, s, m));
      }
    });
    if (ep?.nodeName) for (const m of dns1123SubdomainErrors(String(ep.nodeName))) errs.push(invalid(`${p}.nodeName`, ep.nodeName, m));
    if (ep?.hostname) for (const m of dns1123LabelErrors(String(ep.hostname))) errs.push(invalid(`${p}.hostname`, ep.hostname, m));
  });
  const ports = Array.isArray(o?.ports) ? o.ports : [];
  if (ports.length > 20000) errs.push({ field: "ports", type: "FieldValueTooLong", message: `Too many: ${ports.length}: must have at most 20000 items` });
  const names = new Set<string>();
  ports.forEach((pt: any, i: number) => {
    const p = `ports[${i}]`;
    const name = pt?.name ?? "";
    if (name) for (const m of dns1123LabelErrors(String(name))) errs.push(invalid(`${p}.name`, name, m));
    if (names.has(name)) errs.push(duplicate(`${p}.name`, name));
    names.add(name);
    if (pt?.protocol == null) errs.push(required(`${p}.protocol`));
    else if (!["TCP", "UDP", "SCTP"].includes(pt.protocol)) errs.push(notSupported(`${p}.protocol`, pt.protocol, ["SCTP", "TCP", "UDP"]));
    if (pt?.port != null && !isValidPortNum(pt.port)) errs.push(invalid(`${p}.port`, pt.port, portRangeMessage));
    if (pt?.appProtocol) for (const m of qualifiedNameErrors(String(pt.appProtocol))) errs.push(invalid(`${p}.appProtocol`, pt.appProtocol, m));
  });
  return errs;
}

// =============================================================================================
// autoscaling/v2 HorizontalPodAutoscaler, autoscaling/v1 Scale

export const CrossVersionObjectReference = obj("io.k8s.api.autoscaling.v2.CrossVersionObjectReference", () => ({
  kind: F(str, 1, { required: true }),
  name: F(str, 2, { required: true }),
  apiVersion: F(str, 3),
}));

export const MetricIdentifier = obj("io.k8s.api.autoscaling.v2.MetricIdentifier", () => ({
  name: F(str, 1, { required: true }),
  selector: F(LabelSelector, 2),
}));

export const MetricTarget = obj("io.k8s.api.autoscaling.v2.MetricTarget", () => ({
  type: F(str, 1, { required: true }),
  value: F(quantity, 2),
  averageValue: F(quantity, 3),
  averageUtilization: F(int32, 4),
}));

export const MetricValueStatus = obj("io.k8s.api.autoscaling.v2.MetricValueStatus", () => ({
  value: F(quantity, 1),
  averageValue: F(quantity, 2),
  averageUtilization: F(int32, 3),
}));

export const ObjectMetricSource = obj("io.k8s.api.autoscaling.v2.ObjectMetricSource", () => ({
  describedObject: F(CrossVersionObjectReference, 1, { required: true }),
  target: F(MetricTarget, 2, { required: true }),
  metric: F(MetricIdentifier, 3, { required: true }),
}));

export const PodsMetricSource = obj("io.k8s.api.autoscaling.v2.PodsMetricSource", () => ({
  metric: F(MetricIdentifier, 1, { required: true }),
  target: F(MetricTarget, 2, { required: true }),
}));

export const ResourceMetricSource = obj("io.k8s.api.autoscaling.v2.ResourceMetricSource", () => ({
  name: F(str, 1, { required: true }),
  target: F(MetricTarget, 2, { required: true }),
}));

export const ContainerResourceMetricSource = obj("io.k8s.api.autoscaling.v2.ContainerResourceMetricSource", () => ({
  name: F(str, 1, { required: true }),
  target: F(MetricTarget, 2, { required: true }),
  container: F(str, 3, { required: true }),
}));

export const ExternalMetricSource = obj("io.k8s.api.autoscaling.v2.ExternalMetricSource", () => ({
  metric: F(MetricIdentifier, 1, { required: true }),
  target: F(MetricTarget, 2, { required: true }),
}));

const metricSourceType = strEnum(["ContainerResource", "External", "Object", "Pods", "Resource"]);

export const MetricSpec = obj("io.k8s.api.autoscaling.v2.MetricSpec", () => ({
  type: F(metricSourceType, 1, { required: true }),
  object: F(ObjectMetricSource, 2),
  pods: F(PodsMetricSource, 3),
  resource: F(ResourceMetricSource, 4),
  containerResource: F(ContainerResourceMetricSource, 7),
  external: F(ExternalMetricSource, 5),
}));

export const ObjectMetricStatus = obj("io.k8s.api.autoscaling.v2.ObjectMetricStatus", () => ({
  metric: F(MetricIdentifier, 1, { required: true }),
  current: F(MetricValueStatus, 2, { required: true }),
  describedObject: F(CrossVersionObjectReference, 3, { required: true }),
}));

export const PodsMetricStatus = obj("io.k8s.api.autoscaling.v2.PodsMetricStatus", () => ({
  metric: F(MetricIdentifier, 1, { required: true }),
  current: F(MetricValueStatus, 2, { required: true }),
}));

export const ResourceMetricStatus = obj("io.k8s.api.autoscaling.v2.ResourceMetricStatus", () => ({
  name: F(str, 1, { required: true }),
  current: F(MetricValueStatus, 2, { required: true }),
}));

export const ContainerResourceMetricStatus = obj("io.k8s.api.autoscaling.v2.ContainerResourceMetricStatus", () => ({
  name: F(str, 1, { required: true }),
  current: F(MetricValueStatus, 2, { required: true }),
  container: F(str, 3, { required: true }),
}));

export const ExternalMetricStatus = obj("io.k8s.api.autoscaling.v2.ExternalMetricStatus", () => ({
  metric: F(MetricIdentifier, 1, { required: true }),
  current: F(MetricValueStatus, 2, { required: true }),
}));

export const MetricStatus = obj("io.k8s.api.autoscaling.v2.MetricStatus", () => ({
  type: F(metricSourceType, 1, { required: true }),
  object: F(ObjectMetricStatus, 2),
  pods: F(PodsMetricStatus, 3),
  resource: F(ResourceMetricStatus, 4),
  containerResource: F(ContainerResourceMetricStatus, 7),
  external: F(ExternalMetricStatus, 5),
}));

export const HPAScalingPolicy = obj("io.k8s.api.autoscaling.v2.HPAScalingPolicy", () => ({
  type: F(str, 1, { required: true }),
  value: F(int32, 2, { required: true }),
  periodSeconds: F(int32, 3, { required: true }),
}));

export const HPAScalingRules = obj("io.k8s.api.autoscaling.v2.HPAScalingRules", () => ({
  stabilizationWindowSeconds: F(int32, 3),
  selectPolicy: F(str, 1),
  policies: F(atomicList(HPAScalingPolicy), 2),
  tolerance: F(quantity, 4),
}));

export const HorizontalPodAutoscalerBehavior = obj("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerBehavior", () => ({
  scaleUp: F(HPAScalingRules, 1),
  scaleDown: F(HPAScalingRules, 2),
}));

export const HorizontalPodAutoscalerSpec = obj("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec", () => ({
  scaleTargetRef: F(CrossVersionObjectReference, 1, { required: true }),
  minReplicas: F(int32, 2),
  maxReplicas: F(int32, 3, { required: true }),
  metrics: F(atomicList(MetricSpec), 4),
  behavior: F(HorizontalPodAutoscalerBehavior, 5),
}));

export const HorizontalPodAutoscalerCondition = obj("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerCondition", () => ({
  type: F(str, 1, { required: true }),
  status: F(conditionStatus, 2, { required: true }),
  lastTransitionTime: F(time, 3),
  reason: F(str, 4),
  message: F(str, 5),
}));

export const HorizontalPodAutoscalerStatus = obj("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus", () => ({
  observedGeneration: F(int64, 1),
  lastScaleTime: F(time, 2),
  currentReplicas: F(int32, 3),
  desiredReplicas: F(int32, 4, { required: true }),
  currentMetrics: F(atomicList(MetricStatus), 5),
  conditions: F(keyedList(HorizontalPodAutoscalerCondition, "type"), 6),
}));

export const HorizontalPodAutoscaler = obj("io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler", () => ({
  ...typeMetaFields(),
  spec: F(HorizontalPodAutoscalerSpec, 2),
  status: F(HorizontalPodAutoscalerStatus, 3),
}));

export const ScaleSpec = obj("io.k8s.api.autoscaling.v1.ScaleSpec", () => ({
  replicas: F(int32, 1),
}));

export const ScaleStatus = obj("io.k8s.api.autoscaling.v1.ScaleStatus", () => ({
  replicas: F(int32, 1, { required: true }),
  selector: F(str, 2),
}));

/** autoscaling/v1 Scale: the body of every /scale subresource (not a registered resource). */
export const Scale = obj("io.k8s.api.autoscaling.v1.Scale", () => ({
  ...typeMetaFields(),
  spec: F(ScaleSpec, 2),
  status: F(ScaleStatus, 3),
}));

const defaultScaleUpRules = () => ({
  stabilizationWindowSeconds: 0,
  selectPolicy: "Max",
  policies: [
    { type: "Pods", value: 4, periodSeconds: 15 },
    { type: "Percent", value: 100, periodSeconds: 15 },
  ],
});
const defaultScaleDownRules = () => ({
  selectPolicy: "Max",
  policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
});

/** copyHPAScalingRules: user-set fields win over the defaults. */
function mergeScalingRules(from: any, to: Record<string, any>): Record<string, any> {
  if (!isObj(from)) return to;
  for (const k of ["selectPolicy", "stabilizationWindowSeconds", "policies", "tolerance"])
    if (from[k] !== undefined && from[k] !== null) to[k] = from[k];
  return to;
}

function defaultHPA(o: any): void {
  const spec = ensureObj(o, "spec");
  spec.minReplicas ??= 1;
  if (!Array.isArray(spec.metrics) || spec.metrics.length === 0)
    spec.metrics = [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } } }];
  if (isObj(spec.behavior)) {
    spec.behavior.scaleUp = mergeScalingRules(spec.behavior.scaleUp, defaultScaleUpRules());
    spec.behavior.scaleDown = mergeScalingRules(spec.behavior.scaleDown, defaultScaleDownRules());
  }
}

function pathSegmentErrors(v: string): string[] {
  if (v === "." || v === "..") return [`may not be '${v}'`];
  const out: string[] = [];
  for (const c of ["/", "%"]) if (v.includes(c)) out.push(`may not contain '${c}'`);
  return out;
}

function validateCrossVersionRef(errs: FieldError[], ref: any, path: string): void {
  for (const k of ["kind", "name"] as const) {
    const v = ref?.[k];
    if (!v) errs.push(required(`${path}.${k}`));
    else for (const m of pathSegmentErrors(String(v))) errs.push(invalid(`${path}.${k}`, v, m));
  }
}

const metricSourceField: Record<string, string> = {
  Object: "object",
  Pods: "pods",
  Resource: "resource",
  ContainerResource: "containerResource",
  External: "external",
};

function validateMetricTarget(errs: FieldError[], t: any, path: string): void {
  if (!isObj(t)) {
    errs.push(required(path));
    return;
  }
  if (!t.type) errs.push(required(`${path}.type`, "must specify a metric target type"));
  else if (!["Utilization", "Value", "AverageValue"].includes(t.type))
    errs.push(notSupported(`${path}.type`, t.type, ["AverageValue", "Utilization", "Value"]));
  if (typeof t.averageUtilization === "number" && t.averageUtilization < 1)
    errs.push(invalid(`${path}.averageUtilization`, t.averageUtilization, "must be greater than 0"));
}

function validateHPA(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, true, "path");
  const spec = o?.spec ?? {};
  if (typeof spec.minReplicas === "number" && spec.minReplicas < 1)
    errs.push(invalid("spec.minReplicas", spec.minReplicas, "must be greater than or equal to 1"));
  const max = spec.maxReplicas ?? 0;
  if (max < 1) errs.push(invalid("spec.maxReplicas", max, "must be greater than 0"));
  if (typeof spec.minReplicas === "number" && max < spec.minReplicas)
    errs.push(invalid("spec.maxReplicas", max, "must be greater than or equal to `minReplicas`"));
  validateCrossVersionRef(errs, spec.scaleTargetRef, "spec.scaleTargetRef");
  if (Array.isArray(spec.metrics)) {
    spec.metrics.forEach((m: any, i: number) => {
      const p = `spec.metrics[${i}]`;
      const want = metricSourceField[m?.type];
      const set = Object.values(metricSourceField).filter((k) => isObj(m?.[k]));
      if (!m?.type) errs.push(required(`${p}.type`, "must specify a metric source type"));
      else if (!want) errs.push(notSupported(`${p}.type`, m.type, Object.keys(metricSourceField).sort()));
      if (set.length > 1) errs.push(forbidden(p, "must populate the given metric source only"));
      if (want && !isObj(m?.[want])) errs.push(required(`${p}.${want}`, "must populate information for the given metric source"));
      else if (want) {
        const src = m[want];
        validateMetricTarget(errs, src.target, `${p}.${want}.target`);
        if ((want === "resource" || want === "containerResource") && !src.name) errs.push(required(`${p}.${want}.name`, "must specify a resource name"));
        if (want === "containerResource" && !src.container) errs.push(required(`${p}.${want}.container`, "must specify a container"));
        if (want === "object") validateCrossVersionRef(errs, src.describedObject, `${p}.object.describedObject`);
        if ((want === "object" || want === "pods" || want === "external") && !src.metric?.name)
          errs.push(required(`${p}.${want}.metric.name`, "must specify a metric name"));
      }
    });
  }
  const b = spec.behavior;
  if (isObj(b)) {
    for (const dir of ["scaleUp", "scaleDown"] as const) {
      const r = b[dir];
      if (!isObj(r)) continue;
      const p = `spec.behavior.${dir}`;
      if (r.selectPolicy != null && !["Disabled", "Max", "Min"].includes(r.selectPolicy))
        errs.push(notSupported(`${p}.selectPolicy`, r.selectPolicy, ["Disabled", "Max", "Min"]));
      const sw = r.stabilizationWindowSeconds;
      if (typeof sw === "number") {
        if (sw < 0) errs.push(invalid(`${p}.stabilizationWindowSeconds`, sw, "must be greater than or equal to zero"));
        else if (sw > 3600) errs.push(invalid(`${p}.stabilizationWindowSeconds`, sw, "must be less than or equal to 3600"));
      }
      if (Array.isArray(r.policies)) {
        if (r.policies.length === 0 && r.selectPolicy !== "Disabled") errs.push(required(`${p}.policies`, "must specify at least one Policy"));
        r.policies.forEach((pol: any, i: number) => {
          const pp = `${p}.policies[${i}]`;
          if (!["Pods", "Percent"].includes(pol?.type)) errs.push(notSupported(`${pp}.type`, pol?.type ?? "", ["Percent", "Pods"]));
          if (!(pol?.value > 0)) errs.push(invalid(`${pp}.value`, pol?.value ?? 0, "must be greater than zero"));
          if (!(pol?.periodSeconds > 0)) errs.push(invalid(`${pp}.periodSeconds`, pol?.periodSeconds ?? 0, "must be greater than zero"));
          else if (pol.periodSeconds > 1800)
            errs.push(invalid(`${pp}.periodSeconds`, pol.periodSeconds, "must be less than or equal to 1800"));
        });
      }
    }
  }
  return errs;
}

// =============================================================================================
// authorization.k8s.io/v1 (create-only reviews)

export const FieldSelectorRequirement = obj("io.k8s.api.authorization.v1.FieldSelectorRequirement", () => ({
  key: F(str, 1, { required: true }),
  operator: F(str, 2, { required: true }),
  values: F(atomicList(str), 3),
}));

export const FieldSelectorAttributes = obj("io.k8s.api.authorization.v1.FieldSelectorAttributes", () => ({
  rawSelector: F(str, 1),
  requirements: F(atomicList(FieldSelectorRequirement), 2),
}));

export const LabelSelectorAttributes = obj("io.k8s.api.authorization.v1.LabelSelectorAttributes", () => ({
  rawSelector: F(str, 1),
  requirements: F(atomicList(LabelSelectorRequirement), 2),
}));

export const ResourceAttributes = obj("io.k8s.api.authorization.v1.ResourceAttributes", () => ({
  namespace: F(str, 1),
  verb: F(str, 2),
  group: F(str, 3),
  version: F(str, 4),
  resource: F(str, 5),
  subresource: F(str, 6),
  name: F(str, 7),
  fieldSelector: F(FieldSelectorAttributes, 8),
  labelSelector: F(LabelSelectorAttributes, 9),
}));

export const NonResourceAttributes = obj("io.k8s.api.authorization.v1.NonResourceAttributes", () => ({
  path: F(str, 1),
  verb: F(str, 2),
}));

// `extra` is map<string, ExtraValue{items=1}> in protobuf but map[string][]string in JSON; the DSL
// cannot express that wrapper, so these fields carry no pb number.
const extraMap = map(atomicList(str));

export const SubjectAccessReviewSpec = obj("io.k8s.api.authorization.v1.SubjectAccessReviewSpec", () => ({
  resourceAttributes: F(ResourceAttributes, 1),
  nonResourceAttributes: F(NonResourceAttributes, 2),
  user: F(str, 3),
  groups: F(atomicList(str), 4),
  extra: F(extraMap),
  uid: F(str, 6),
}));

export const SubjectAccessReviewStatus = obj("io.k8s.api.authorization.v1.SubjectAccessReviewStatus", () => ({
  allowed: F(bool, 1, { required: true }),
  denied: F(bool, 4),
  reason: F(str, 2),
  evaluationError: F(str, 3),
}));

export const SubjectAccessReview = obj("io.k8s.api.authorization.v1.SubjectAccessReview", () => ({
  ...typeMetaFields(),
  spec: F(SubjectAccessReviewSpec, 2, { required: true }),
  status: F(SubjectAccessReviewStatus, 3),
}));

export const LocalSubjectAccessReview = obj("io.k8s.api.authorization.v1.LocalSubjectAccessReview", () => ({
  ...typeMetaFields(),
  spec: F(SubjectAccessReviewSpec, 2, { required: true }),
  status: F(SubjectAccessReviewStatus, 3),
}));

export const SelfSubjectAccessReviewSpec = obj("io.k8s.api.authorization.v1.SelfSubjectAccessReviewSpec", () => ({
  resourceAttributes: F(ResourceAttributes, 1),
  nonResourceAttributes: F(NonResourceAttributes, 2),
}));

export const SelfSubjectAccessReview = obj("io.k8s.api.authorization.v1.SelfSubjectAccessReview", () => ({
  ...typeMetaFields(),
  spec: F(SelfSubjectAccessReviewSpec, 2, { required: true }),
  status: F(SubjectAccessReviewStatus, 3),
}));

export const ResourceRule = obj("io.k8s.api.authorization.v1.ResourceRule", () => ({
  verbs: F(atomicList(str), 1, { required: true }),
  apiGroups: F(atomicList(str), 2),
  resources: F(atomicList(str), 3),
  resourceNames: F(atomicList(str), 4),
}));

export const NonResourceRule = obj("io.k8s.api.authorization.v1.NonResourceRule", () => ({
  verbs: F(atomicList(str), 1, { required: true }),
  nonResourceURLs: F(atomicList(str), 2),
}));

export const SubjectRulesReviewStatus = obj("io.k8s.api.authorization.v1.SubjectRulesReviewStatus", () => ({
  resourceRules: F(atomicList(ResourceRule), 1, { required: true }),
  nonResourceRules: F(atomicList(NonResourceRule), 2, { required: true }),
  incomplete: F(bool, 3, { required: true }),
  evaluationError: F(str, 4),
}));

export const SelfSubjectRulesReviewSpec = obj("io.k8s.api.authorization.v1.SelfSubjectRulesReviewSpec", () => ({
  namespace: F(str, 1),
}));

export const SelfSubjectRulesReview = obj("io.k8s.api.authorization.v1.SelfSubjectRulesReview", () => ({
  ...typeMetaFields(),
  spec: F(SelfSubjectRulesReviewSpec, 2, { required: true }),
  status: F(SubjectRulesReviewStatus, 3),
}));

function validateAccessReviewSpec(errs: FieldError[], spec: any): void {
  const r = isObj(spec?.resourceAttributes);
  const n = isObj(spec?.nonResourceAttributes);
  if (r && n) errs.push(invalid("spec.nonResourceAttributes", "", "cannot be specified in combination with resourceAttributes"));
  if (!r && !n)
    errs.push(invalid("spec.resourceAttributes", "", "exactly one of nonResourceAttributes or resourceAttributes must be specified"));
}

function validateSelfSAR(o: any): FieldError[] {
  const errs: FieldError[] = [];
  validateAccessReviewSpec(errs, o?.spec);
  return errs;
}

function validateSAR(o: any): FieldError[] {
  const errs: FieldError[] = [];
  validateAccessReviewSpec(errs, o?.spec);
  const s = o?.spec ?? {};
  if (!s.user && !(Array.isArray(s.groups) && s.groups.length > 0))
    errs.push(invalid("spec.user", s.user ?? "", "at least one of user or group must be specified"));
  return errs;
}

function validateLocalSAR(o: any): FieldError[] {
  const errs = validateSAR(o);
  const ns = o?.metadata?.namespace;
  const specNs = o?.spec?.resourceAttributes?.namespace;
  if (isObj(o?.spec?.resourceAttributes) && specNs !== undefined && specNs !== "" && ns && specNs !== ns)
    errs.push(invalid("spec.resourceAttributes.namespace", specNs, "must match metadata.namespace"));
  if (isObj(o?.spec?.nonResourceAttributes))
    errs.push(invalid("spec.nonResourceAttributes", "", "disallowed on this kind of request"));
  return errs;
}

function defaultLocalSAR(o: any): void {
  const ra = o?.spec?.resourceAttributes;
  if (isObj(ra) && !ra.namespace && o?.metadata?.namespace) ra.namespace = o.metadata.namespace;
}

// =============================================================================================
// authentication.k8s.io/v1 (create-only reviews and TokenRequest)

export const UserInfo = obj("io.k8s.api.authentication.v1.UserInfo", () => ({
  username: F(str, 1),
  uid: F(str, 2),
  groups: F(atomicList(str), 3),
  extra: F(extraMap),
}));

export const BoundObjectReference = obj("io.k8s.api.authentication.v1.BoundObjectReference", () => ({
  kind: F(str, 1),
  apiVersion: F(str, 2),
  name: F(str, 3),
  uid: F(str, 4),
}));

export const TokenRequestSpec = obj("io.k8s.api.authentication.v1.TokenRequestSpec", () => ({
  audiences: F(atomicList(str), 1, { required: true }),
  expirationSeconds: F(int64, 4),
  boundObjectRef: F(BoundObjectReference, 3),
}));

export const TokenRequestStatus = obj("io.k8s.api.authentication.v1.TokenRequestStatus", () => ({
  token: F(str, 1, { required: true }),
  expirationTimestamp: F(time, 2, { required: true }),
}));

/** authentication.k8s.io/v1 TokenRequest: the body of POST serviceaccounts/{name}/token (not registered). */
export const TokenRequest = obj("io.k8s.api.authentication.v1.TokenRequest", () => ({
  ...typeMetaFields(),
  spec: F(TokenRequestSpec, 2, { required: true }),
  status: F(TokenRequestStatus, 3),
}));

/** Defaulting of a TokenRequest (expirationSeconds 3600), for the serviceaccounts/token handler. */
export function defaultTokenRequest(o: any): void {
  const spec = ensureObj(o, "spec");
  spec.expirationSeconds ??= 3600;
}

/** ValidateTokenRequest, for the serviceaccounts/token handler. */
export function validateTokenRequest(o: any): FieldError[] {
  const errs: FieldError[] = [];
  const e = o?.spec?.expirationSeconds;
  if (typeof e === "number") {
    if (e < 600) errs.push(invalid("spec.expirationSeconds", e, "may not specify a duration less than 10 minutes"));
    if (e > 2 ** 32) errs.push(invalid("spec.expirationSeconds", e, "may not specify a duration larger than 2^32 seconds"));
  }
  return errs;
}

export const TokenReviewSpec = obj("io.k8s.api.authentication.v1.TokenReviewSpec", () => ({
  token: F(str, 1),
  audiences: F(atomicList(str), 2),
}));

export const TokenReviewStatus = obj("io.k8s.api.authentication.v1.TokenReviewStatus", () => ({
  authenticated: F(bool, 1),
  user: F(UserInfo, 2),
  audiences: F(atomicList(str), 4),
  error: F(str, 3),
}));

export const TokenReview = obj("io.k8s.api.authentication.v1.TokenReview", () => ({
  ...typeMetaFields(),
  spec: F(TokenReviewSpec, 2, { required: true }),
  status: F(TokenReviewStatus, 3),
}));

export const SelfSubjectReviewStatus = obj("io.k8s.api.authentication.v1.SelfSubjectReviewStatus", () => ({
  userInfo: F(UserInfo, 1),
}));

export const SelfSubjectReview = obj("io.k8s.api.authentication.v1.SelfSubjectReview", () => ({
  ...typeMetaFields(),
  status: F(SelfSubjectReviewStatus, 2),
}));

// ---------------------------------------------------------------------------------------------

const createOnly = ["create"];

export const resources: ResourceDef[] = [
  {
    group: "storage.k8s.io",
    version: "v1",
    kind: "StorageClass",
    plural: "storageclasses",
    singular: "storageclass",
    namespaced: false,
    shortNames: ["sc"],
    type: StorageClass,
    defaults: defaultStorageClass,
    validate: validateStorageClass,
    immutable: ["volumeBindingMode"],
    noGeneration: true,
  },
  {
    group: "coordination.k8s.io",
    version: "v1",
    kind: "Lease",
    plural: "leases",
    singular: "lease",
    namespaced: true,
    type: Lease,
    validate: validateLease,
    noGeneration: true,
  },
  {
    group: "discovery.k8s.io",
    version: "v1",
    kind: "EndpointSlice",
    plural: "endpointslices",
    singular: "endpointslice",
    namespaced: true,
    type: EndpointSlice,
    defaults: defaultEndpointSlice,
    validate: validateEndpointSlice,
    immutable: ["addressType"],
  },
  {
    group: "autoscaling",
    version: "v2",
    kind: "HorizontalPodAutoscaler",
    plural: "horizontalpodautoscalers",
    singular: "horizontalpodautoscaler",
    namespaced: true,
    shortNames: ["hpa"],
    categories: ["all"],
    type: HorizontalPodAutoscaler,
    subresources: { status: true },
    defaults: defaultHPA,
    validate: validateHPA,
  },
  {
    group: "authorization.k8s.io",
    version: "v1",
    kind: "SelfSubjectAccessReview",
    plural: "selfsubjectaccessreviews",
    singular: "selfsubjectaccessreview",
    namespaced: false,
    type: SelfSubjectAccessReview,
    verbs: createOnly,
    validate: validateSelfSAR,
    noGeneration: true,
  },
  {
    group: "authorization.k8s.io",
    version: "v1",
    kind: "SubjectAccessReview",
    plural: "subjectaccessreviews",
    singular: "subjectaccessreview",
    namespaced: false,
    type: SubjectAccessReview,
    verbs: createOnly,
    validate: validateSAR,
    noGeneration: true,
  },
  {
    group: "authorization.k8s.io",
    version: "v1",
    kind: "LocalSubjectAccessReview",
    plural: "localsubjectaccessreviews",
    singular: "localsubjectaccessreview",
    namespaced: true,
    type: LocalSubjectAccessReview,
    verbs: createOnly,
    defaults: defaultLocalSAR,
    validate: validateLocalSAR,
    noGeneration: true,
  },
  {
    group: "authorization.k8s.io",
    version: "v1",
    kind: "SelfSubjectRulesReview",
    plural: "selfsubjectrulesreviews",
    singular: "selfsubjectrulesreview",
    namespaced: false,
    type: SelfSubjectRulesReview,
    verbs: createOnly,
    noGeneration: true,
  },
  {
    group: "authentication.k8s.io",
    version: "v1",
    kind: "TokenReview",
    plural: "tokenreviews",
    singular: "tokenreview",
    namespaced: false,
    type: TokenReview,
    verbs: createOnly,
    noGeneration: true,
  },
  {
    group: "authentication.k8s.io",
    version: "v1",
    kind: "SelfSubjectReview",
    plural: "selfsubjectreviews",
    singular: "selfsubjectreview",
    namespaced: false,
    type: SelfSubjectReview,
    verbs: createOnly,
    noGeneration: true,
  },
];
