// networking.k8s.io/v1: Ingress, IngressClass, NetworkPolicy. Field names and protobuf numbers
// follow k8s.io/api/networking/v1 (generated.proto); defaulting pkg/apis/networking/v1/defaults.go;
// validation pkg/apis/networking/validation.
import { F, atomicList, int32, intOrString, obj, str, strEnum } from "../dsl";
import type { FieldError, ResourceDef } from "../registry";
import {
  dns1035LabelErrors,
  dns1123SubdomainErrors,
  forbidden,
  invalid,
  isIPv4,
  isIPv6,
  isValidIP,
  isValidPortNum,
  notSupported,
  portNameErrors,
  portRangeMessage,
  required,
  tooLong,
} from "../validation";
import { LabelSelector, typeMetaFields } from "./meta";
import { TypedLocalObjectReference } from "./pod";
import { ensureObj, metaErrors, validateLabelSelector } from "./apps";
import { isObj } from "../helpers/json";

/**
 * protobuf nesting of inlined Go structs in this group (same convention as pod-common.ts `inlinedPb`):
 * IngressRule embeds IngressRuleValue (pb 2), which holds `http` (pb 1).
 */
export const inlinedPb: Record<string, [number, string]> = {
  "io.k8s.api.networking.v1.IngressRule": [2, "io.k8s.api.networking.v1.IngressRuleValue"],
};

// ---------------------------------------------------------------------------------------------
// Ingress

export const ServiceBackendPort = obj("io.k8s.api.networking.v1.ServiceBackendPort", () => ({
  name: F(str, 1),
  number: F(int32, 2),
}));

export const IngressServiceBackend = obj("io.k8s.api.networking.v1.IngressServiceBackend", () => ({
  name: F(str, 1, { required: true }),
  port: F(ServiceBackendPort, 2),
}));

export const IngressBackend = obj("io.k8s.api.networking.v1.IngressBackend", () => ({
  service: F(IngressServiceBackend, 4),
  resource: F(TypedLocalObjectReference, 3),
}));

export const HTTPIngressPath = obj("io.k8s.api.networking.v1.HTTPIngressPath", () => ({
  path: F(str, 1),
  pathType: F(strEnum(["Exact", "ImplementationSpecific", "Prefix"]), 3, { required: true }),
  backend: F(IngressBackend, 2, { required: true }),
}));

export const HTTPIngressRuleValue = obj("io.k8s.api.networking.v1.HTTPIngressRuleValue", () => ({
  paths: F(atomicList(HTTPIngressPath), 1, { required: true }),
}));

export const IngressRule = obj("io.k8s.api.networking.v1.IngressRule", () => ({
  host: F(str, 1),
  // In protobuf `http` sits inside the embedded IngressRuleValue message (field 2, whose field 1
  // is http); JSON inlines it. The DSL has no notion of an embedded message, so no pb number here.
  http: F(HTTPIngressRuleValue),
}));

export const IngressTLS = obj("io.k8s.api.networking.v1.IngressTLS", () => ({
  hosts: F(atomicList(str), 1),
  secretName: F(str, 2),
}));

export const IngressSpec = obj("io.k8s.api.networking.v1.IngressSpec", () => ({
  ingressClassName: F(str, 4),
  defaultBackend: F(IngressBackend, 1),
  tls: F(atomicList(IngressTLS), 2),
  rules: F(atomicList(IngressRule), 3),
}));

export const IngressPortStatus = obj("io.k8s.api.networking.v1.IngressPortStatus", () => ({
  port: F(int32, 1, { required: true }),
  protocol: F(strEnum(["SCTP", "TCP", "UDP"]), 2, { required: true }),
  error: F(str, 3),
}));

export const IngressLoadBalancerIngress = obj("io.k8s.api.networking.v1.IngressLoadBalancerIngress", () => ({
  ip: F(str, 1),
  hostname: F(str, 2),
  ports: F(atomicList(IngressPortStatus), 4),
}));

export const IngressLoadBalancerStatus = obj("io.k8s.api.networking.v1.IngressLoadBalancerStatus", () => ({
  ingress: F(atomicList(IngressLoadBalancerIngress), 1),
}));

export const IngressStatus = obj("io.k8s.api.networking.v1.IngressStatus", () => ({
  loadBalancer: F(IngressLoadBalancerStatus, 1),
}));

export const Ingress = obj("io.k8s.api.networking.v1.Ingress", () => ({
  ...typeMetaFields(),
  spec: F(IngressSpec, 2),
  status: F(IngressStatus, 3),
}));

// ---------------------------------------------------------------------------------------------
// IngressClass

export const IngressClassParametersReference = obj("io.k8s.api.networking.v1.IngressClassParametersReference", () => ({
  apiGroup: F(str, 1),
  kind: F(str, 2, { required: true }),
  name: F(str, 3, { required: true }),
  scope: F(str, 4),
  namespace: F(str, 5),
}));

export const IngressClassSpec = obj("io.k8s.api.networking.v1.IngressClassSpec", () => ({
  controller: F(str, 1),
  parameters: F(IngressClassParametersReference, 2),
}));

export const IngressClass = obj("io.k8s.api.networking.v1.IngressClass", () => ({
  ...typeMetaFields(),
  spec: F(IngressClassSpec, 2),
}));

// ---------------------------------------------------------------------------------------------
// NetworkPolicy

export const IPBlock = obj("io.k8s.api.networking.v1.IPBlock", () => ({
  cidr: F(str, 1, { required: true }),
  except: F(atomicList(str), 2),
}));

export const NetworkPolicyPeer = obj("io.k8s.api.networking.v1.NetworkPolicyPeer", () => ({
  podSelector: F(LabelSelector, 1),
  namespaceSelector: F(LabelSelector, 2),
  ipBlock: F(IPBlock, 3),
}));

export const NetworkPolicyPort = obj("io.k8s.api.networking.v1.NetworkPolicyPort", () => ({
  protocol: F(strEnum(["SCTP", "TCP", "UDP"]), 1),
  port: F(intOrString, 2),
  endPort: F(int32, 3),
}));

export const NetworkPolicyIngressRule = obj("io.k8s.api.networking.v1.NetworkPolicyIngressRule", () => ({
  ports: F(atomicList(NetworkPolicyPort), 1),
  from: F(atomicList(NetworkPolicyPeer), 2),
}));

export const NetworkPolicyEgressRule = obj("io.k8s.api.networking.v1.NetworkPolicyEgressRule", () => ({
  ports: F(atomicList(NetworkPolicyPort), 1),
  to: F(atomicList(NetworkPolicyPeer), 2),
}));

export const NetworkPolicySpec = obj("io.k8s.api.networking.v1.NetworkPolicySpec", () => ({
  podSelector: F(LabelSelector, 1),
  ingress: F(atomicList(NetworkPolicyIngressRule), 2),
  egress: F(atomicList(NetworkPolicyEgressRule), 3),
  policyTypes: F(atomicList(strEnum(["Egress", "Ingress"])), 4),
}));

export const NetworkPolicy = obj("io.k8s.api.networking.v1.NetworkPolicy", () => ({
  ...typeMetaFields(),
  spec: F(NetworkPolicySpec, 2),
}));

// =============================================================================================
// Defaulting

function defaultNetworkPolicy(o: any): void {
  const spec = ensureObj(o, "spec");
  if (!Array.isArray(spec.policyTypes) || spec.policyTypes.length === 0) {
    // A policy without policyTypes always affects ingress, and egress only if it has egress rules.
    spec.policyTypes = ["Ingress"];
    if (Array.isArray(spec.egress) && spec.egress.length > 0) spec.policyTypes.push("Egress");
  }
  for (const rules of [spec.ingress, spec.egress]) {
    if (!Array.isArray(rules)) continue;
    for (const r of rules) if (Array.isArray(r?.ports)) for (const p of r.ports) if (isObj(p) && !p.protocol) p.protocol = "TCP";
  }
}

function defaultIngressClass(o: any): void {
  const p = o?.spec?.parameters;
  if (isObj(p) && !p.scope) p.scope = "Cluster";
}

// =============================================================================================
// Validation helpers

/** IsWildcardDNS1123Subdomain ("*.example.com"). */
function wildcardSubdomainErrors(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 253) errs.push("must be no more than 253 characters");
  if (!/^\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(v))
    errs.push(
      "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
  return errs;
}

function hostErrors(errs: FieldError[], path: string, host: string): void {
  if (host.includes("*")) for (const m of wildcardSubdomainErrors(host)) errs.push(invalid(path, host, m));
  else for (const m of dns1123SubdomainErrors(host)) errs.push(invalid(path, host, m));
}

/** An IP (v4 or v6) as a bigint plus its bit width. */
function ipToBig(ip: string): { v: bigint; bits: number } | undefined {
  if (isIPv4(ip)) return { v: ip.split(".").reduce((a, x) => (a << 8n) | BigInt(Number(x)), 0n), bits: 32 };
  if (!isIPv6(ip)) return undefined;
  let s = ip;
  const tail = s.slice(s.lastIndexOf(":") + 1);
  if (tail.includes(".")) {
    const v4 = ipToBig(tail)!.v;
    s = `${s.slice(0, s.lastIndexOf(":") + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [h, r] = s.split("::");
  const head = h ? h.split(":") : [];
  const rest = r !== undefined && r !== "" ? r.split(":") : [];
  const groups = r !== undefined ? [...head, ...Array(8 - head.length - rest.length).fill("0"), ...rest] : head;
  return { v: groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n), bits: 128 };
}

function parseCidr(c: string): { ip: bigint; bits: number; prefix: number } | undefined {
  const i = c.indexOf("/");
  if (i < 0) return undefined;
  const ip = ipToBig(c.slice(0, i));
  const pfx = c.slice(i + 1);
  if (!ip || !/^\d{1,3}$/.test(pfx) || Number(pfx) > ip.bits) return undefined;
  return { ip: ip.v, bits: ip.bits, prefix: Number(pfx) };
}

const cidrMsg = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

function validateIPBlock(errs: FieldError[], ipb: any, path: string): void {
  const cidr = ipb?.cidr;
  if (!cidr) {
    errs.push(required(`${path}.cidr`));
    return;
  }
  const net = parseCidr(String(cidr));
  if (!net) {
    errs.push(invalid(`${path}.cidr`, cidr, cidrMsg));
    return;
  }
  if (!Array.isArray(ipb.except)) return;
  ipb.except.forEach((e: any, i: number) => {
    const p = `${path}.except[${i}]`;
    const ex = parseCidr(String(e));
    if (!ex) {
      errs.push(invalid(p, e, cidrMsg));
      return;
    }
    const mask = (pfx: number, bits: number) => (pfx === 0 ? 0n : ((1n << BigInt(pfx)) - 1n) << BigInt(bits - pfx));
    const contained = ex.bits === net.bits && (ex.ip & mask(net.prefix, net.bits)) === (net.ip & mask(net.prefix, net.bits));
    if (!contained || net.prefix >= ex.prefix) errs.push(invalid(p, e, "must be a strict subset of `cidr`"));
  });
}

function validateIngressBackend(errs: FieldError[], b: any, path: string): void {
  const hasRes = isObj(b?.resource);
  const hasSvc = isObj(b?.service);
  if (hasRes && hasSvc) {
    errs.push(invalid(path, "", "cannot set both resource and service backends"));
    return;
  }
  if (hasRes) {
    const r = b.resource;
    if (!r.kind) errs.push(required(`${path}.resource.kind`));
    if (!r.name) errs.push(required(`${path}.resource.name`));
    if (r.apiGroup == null || r.apiGroup === "") errs.push(required(`${path}.resource.apiGroup`));
    else for (const m of dns1123SubdomainErrors(String(r.apiGroup))) errs.push(invalid(`${path}.resource.apiGroup`, r.apiGroup, m));
    return;
  }
  if (hasSvc) {
    const s = b.service;
    if (!s.name) errs.push(required(`${path}.service.name`));
    else for (const m of dns1035LabelErrors(String(s.name))) errs.push(invalid(`${path}.service.name`, s.name, m));
    const pn = s.port?.name ?? "";
    const num = s.port?.number ?? 0;
    if (pn && num) errs.push(invalid(path, "", "cannot set both port name & port number"));
    else if (pn) for (const m of portNameErrors(String(pn))) errs.push(invalid(`${path}.service.port.name`, pn, m));
    else if (num) {
      if (!isValidPortNum(num)) errs.push(invalid(`${path}.service.port.number`, num, portRangeMessage));
    } else errs.push(required(path, "port name or number is required"));
    return;
  }
  errs.push(invalid(path, "", "resource or service backend is required"));
}

const invalidPathSequences = ["//", "/./", "/../", "%2f", "%2F"];
const invalidPathSuffixes = ["/..", "/."];

function validateIngress(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, true);
  const spec = o?.spec ?? {};
  const rules = Array.isArray(spec.rules) ? spec.rules : [];
  if (rules.length === 0 && !isObj(spec.defaultBackend))
    errs.push({
      field: "spec",
      type: "FieldValueInvalid",
      message: "Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified",
    });
  if (isObj(spec.defaultBackend)) validateIngressBackend(errs, spec.defaultBackend, "spec.defaultBackend");
  rules.forEach((r: any, i: number) => {
    const p = `spec.rules[${i}]`;
    const host = r?.host;
    if (host) {
      hostErrors(errs, `${p}.host`, String(host));
      if (isValidIP(String(host))) errs.push(invalid(`${p}.host`, host, "must be a DNS name, not an IP address"));
    }
    if (!isObj(r?.http)) return;
    const paths = Array.isArray(r.http.paths) ? r.http.paths : [];
    if (paths.length === 0) errs.push(required(`${p}.http.paths`));
    paths.forEach((hp: any, j: number) => {
      const pp = `${p}.http.paths[${j}]`;
      const path = hp?.path ?? "";
      switch (hp?.pathType) {
        case undefined:
        case null:
        case "":
          errs.push(required(`${pp}.pathType`, "pathType must be specified"));
          return;
        case "Exact":
        case "Prefix":
          if (!String(path).startsWith("/")) errs.push(invalid(`${pp}.path`, path, "must be an absolute path"));
          if (path) {
            for (const seq of invalidPathSequences)
              if (String(path).includes(seq)) errs.push(invalid(`${pp}.path`, path, `must not contain '${seq}'`));
            for (const suf of invalidPathSuffixes)
              if (String(path).endsWith(suf)) errs.push(invalid(`${pp}.path`, path, `cannot end with '${suf}'`));
          }
          break;
        case "ImplementationSpecific":
          if (path && !String(path).startsWith("/")) errs.push(invalid(`${pp}.path`, path, "must be an absolute path"));
          break;
        default:
          errs.push(notSupported(`${pp}.pathType`, hp.pathType, ["Exact", "ImplementationSpecific", "Prefix"]));
      }
      validateIngressBackend(errs, hp?.backend, `${pp}.backend`);
    });
  });
  if (Array.isArray(spec.tls)) {
    spec.tls.forEach((t: any, i: number) => {
      const p = `spec.tls[${i}]`;
      if (Array.isArray(t?.hosts)) t.hosts.forEach((h: any, j: number) => hostErrors(errs, `${p}.hosts[${j}]`, String(h)));
      if (t?.secretName) for (const m of dns1123SubdomainErrors(String(t.secretName))) errs.push(invalid(`${p}.secretName`, t.secretName, m));
    });
  }
  if (spec.ingressClassName != null)
    for (const m of dns1123SubdomainErrors(String(spec.ingressClassName)))
      errs.push(invalid("spec.ingressClassName", spec.ingressClassName, m));
  return errs;
}

/** IsDomainPrefixedPath. */
function domainPrefixedPathErrors(errs: FieldError[], path: string, v: string): void {
  if (!v) {
    errs.push(required(path));
    return;
  }
  const i = v.indexOf("/");
  if (i < 0) {
    errs.push(invalid(path, v, 'must be a domain-prefixed path (such as "acme.io/foo")'));
    return;
  }
  const host = v.slice(0, i);
  const rest = v.slice(i + 1);
  for (const m of dns1123SubdomainErrors(host)) errs.push(invalid(path, host, m));
  if (!/^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/.test(rest)) errs.push(invalid(path, rest, "Invalid path"));
}

function validateIngressClass(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, false);
  const spec = o?.spec ?? {};
  const c = String(spec.controller ?? "");
  if (c.length > 250) errs.push(tooLong("spec.controller", c, 250));
  domainPrefixedPathErrors(errs, "spec.controller", c);
  const p = spec.parameters;
  if (isObj(p)) {
    const pp = "spec.parameters";
    if (p.apiGroup) for (const m of dns1123SubdomainErrors(String(p.apiGroup))) errs.push(invalid(`${pp}.apiGroup`, p.apiGroup, m));
    if (!p.kind) errs.push(required(`${pp}.kind`));
    if (!p.name) errs.push(required(`${pp}.name`));
    if (p.scope == null) errs.push(required(`${pp}.scope`));
    else if (p.scope === "Namespace") {
      if (!p.namespace) errs.push(required(`${pp}.namespace`, "`parameters.scope` is set to 'Namespace'"));
    } else if (p.scope === "Cluster") {
      if (p.namespace) errs.push(forbidden(`${pp}.namespace`, "`parameters.scope` is set to 'Cluster'"));
    } else errs.push(notSupported(`${pp}.scope`, p.scope, ["Cluster", "Namespace"]));
  }
  return errs;
}

function validateNetworkPolicyPort(errs: FieldError[], port: any, path: string): void {
  if (port?.protocol != null && !["TCP", "UDP", "SCTP"].includes(port.protocol))
    errs.push(notSupported(`${path}.protocol`, port.protocol, ["TCP", "UDP", "SCTP"]));
  const p = port?.port;
  const end = port?.endPort;
  if (p !== undefined && p !== null) {
    if (typeof p === "number") {
      if (!isValidPortNum(p)) errs.push(invalid(`${path}.port`, p, portRangeMessage));
      if (end != null) {
        if (end < p) errs.push(invalid(`${path}.endPort`, p, "must be greater than or equal to `port`"));
        if (!isValidPortNum(end)) errs.push(invalid(`${path}.endPort`, end, portRangeMessage));
      }
    } else {
      if (end != null) errs.push(invalid(`${path}.endPort`, end, "may not be specified when `port` is non-numeric"));
      for (const m of portNameErrors(String(p))) errs.push(invalid(`${path}.port`, p, m));
    }
  } else if (end != null) errs.push(invalid(`${path}.endPort`, end, "may not be specified when `port` is not specified"));
}

function validateNetworkPolicyPeer(errs: FieldError[], peer: any, path: string): void {
  let n = 0;
  if (isObj(peer?.podSelector)) {
    n++;
    errs.push(...validateLabelSelector(peer.podSelector, `${path}.podSelector`));
  }
  if (isObj(peer?.namespaceSelector)) {
    n++;
    errs.push(...validateLabelSelector(peer.namespaceSelector, `${path}.namespaceSelector`));
  }
  if (isObj(peer?.ipBlock)) {
    n++;
    validateIPBlock(errs, peer.ipBlock, `${path}.ipBlock`);
  }
  if (n === 0) errs.push(required(path, "must specify a peer"));
  else if (n > 1 && isObj(peer?.ipBlock)) errs.push(forbidden(path, "may not specify both ipBlock and another peer"));
}

function validateNetworkPolicy(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, true);
  const spec = o?.spec ?? {};
  errs.push(...validateLabelSelector(spec.podSelector, "spec.podSelector"));
  for (const [dir, peersKey] of [
    ["ingress", "from"],
    ["egress", "to"],
  ] as const) {
    const rules = spec[dir];
    if (!Array.isArray(rules)) continue;
    rules.forEach((r: any, i: number) => {
      const rp = `spec.${dir}[${i}]`;
      if (Array.isArray(r?.ports)) r.ports.forEach((p: any, j: number) => validateNetworkPolicyPort(errs, p, `${rp}.ports[${j}]`));
      if (Array.isArray(r?.[peersKey]))
        r[peersKey].forEach((p: any, j: number) => validateNetworkPolicyPeer(errs, p, `${rp}.${peersKey}[${j}]`));
    });
  }
  const pts = spec.policyTypes;
  if (Array.isArray(pts)) {
    if (pts.length > 2) errs.push(invalid("spec.policyTypes", pts, "may not specify more than two policyTypes"));
    else
      pts.forEach((t: any, i: number) => {
        if (t !== "Ingress" && t !== "Egress") errs.push(notSupported(`spec.policyTypes[${i}]`, t, ["Ingress", "Egress"]));
      });
  }
  return errs;
}

// ---------------------------------------------------------------------------------------------

export const resources: ResourceDef[] = [
  {
    group: "networking.k8s.io",
    version: "v1",
    kind: "Ingress",
    plural: "ingresses",
    singular: "ingress",
    namespaced: true,
    shortNames: ["ing"],
    type: Ingress,
    subresources: { status: true },
    validate: validateIngress,
  },
  {
    group: "networking.k8s.io",
    version: "v1",
    kind: "IngressClass",
    plural: "ingressclasses",
    singular: "ingressclass",
    namespaced: false,
    type: IngressClass,
    defaults: defaultIngressClass,
    validate: validateIngressClass,
    immutable: ["spec.controller"],
  },
  {
    group: "networking.k8s.io",
    version: "v1",
    kind: "NetworkPolicy",
    plural: "networkpolicies",
    singular: "networkpolicy",
    namespaced: true,
    shortNames: ["netpol"],
    type: NetworkPolicy,
    defaults: defaultNetworkPolicy,
    validate: validateNetworkPolicy,
  },
];
