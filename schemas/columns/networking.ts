// Table columns for networking.k8s.io and discovery.k8s.io, after printers.go.
import type { Column } from "../registry";
import {
  ageCol,
  arr,
  col,
  listWithMore,
  nameCol,
  obj,
  sortedSet,
  str,
} from "./format";
import { isObj } from "../helpers/json";
import { formatLabelSelector } from "../helpers/selectors";

function formatHosts(rules: unknown): string {
  const rs = arr(rules);
  const list: string[] = [];
  const max = 3;
  let more = false;
  for (const r of rs) {
    if (list.length === max) more = true;
    const host = str(obj(r).host);
    if (!more && host.length !== 0) list.push(host);
  }
  if (list.length === 0) return "*";
  const ret = list.join(",");
  return more ? `${ret} + ${rs.length - max} more...` : ret;
}

function ingressAddress(o: any): string {
  const out: string[] = [];
  for (const ing of arr(o?.status?.loadBalancer?.ingress)) {
    if (!isObj(ing)) continue;
    if (str(ing.ip) !== "") out.push(str(ing.ip));
    else if (str(ing.hostname) !== "") out.push(str(ing.hostname));
  }
  // The API server renders with Wide=true: no clipping.
  return sortedSet(out).join(",");
}

const ingressColumns: Column[] = [
  nameCol(),
  col("Class", "string", "The name of the IngressClass resource that should be used for additional configuration", (o) => {
    const c = o?.spec?.ingressClassName;
    return c === undefined || c === null ? "<none>" : str(c);
  }),
  col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule", (o) => formatHosts(o?.spec?.rules)),
  col("Address", "string", "Address is a list containing ingress points for the load-balancer", (o) => ingressAddress(o)),
  col("Ports", "string", "Ports of TLS configurations that open", (o) => (arr(o?.spec?.tls).length !== 0 ? "80, 443" : "80")),
  ageCol(),
];

const ingressClassColumns: Column[] = [
  nameCol(),
  col("Controller", "string", "Controller that is responsible for handling this class", (o) => str(o?.spec?.controller)),
  col("Parameters", "string", "A reference to a resource with additional parameters", (o) => {
    const p = o?.spec?.parameters;
    if (!isObj(p)) return "<none>";
    let s = str(p.kind);
    if (p.apiGroup !== undefined && p.apiGroup !== null) s += "." + str(p.apiGroup);
    return s + "/" + str(p.name);
  }),
  ageCol(),
];

const networkPolicyColumns: Column[] = [
  nameCol(),
  col(
    "Pod-Selector",
    "string",
    "Selects the pods to which this NetworkPolicy object applies.",
    // &obj.Spec.PodSelector is never nil: an absent selector is the empty one.
    (o) => formatLabelSelector(isObj(o?.spec?.podSelector) ? o.spec.podSelector : {}),
  ),
  ageCol(),
];

const serviceCIDRColumns: Column[] = [
  nameCol(),
  col("CIDRs", "string", "CIDRs defines the IP blocks in CIDR notation from which to assign service cluster IPs.", (o) => arr(o?.spec?.cidrs).map(str).join(",")),
  ageCol(),
];

const ipAddressColumns: Column[] = [
  nameCol(),
  col("ParentRef", "string", "ParentRef references the resource that an IPAddress is attached to.", (o) => {
    const p = o?.spec?.parentRef;
    if (!isObj(p)) return "<none>";
    const group = str(p.group);
    const resource = str(p.resource);
    let s = (group === "" ? resource : `${resource}.${group}`).toLowerCase();
    if (str(p.namespace) !== "") s += "/" + str(p.namespace);
    return s + "/" + str(p.name);
  }),
];

// discovery.k8s.io EndpointSlice

function formatDiscoveryPorts(ports: unknown): string {
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const p of arr(ports)) {
    const port = obj(p);
    if (list.length < max) {
      let portNum = "*";
      if (port.port !== undefined && port.port !== null) portNum = String(port.port);
      else if (port.name !== undefined && port.name !== null) portNum = str(port.name);
      list.push(portNum);
    } else if (list.length === max) {
      more = true;
    }
    count++;
  }
  return listWithMore(list, more, count, max);
}

function formatDiscoveryEndpoints(endpoints: unknown): string {
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const e of arr(endpoints)) {
    for (const a of arr(obj(e).addresses)) {
      if (list.length < max) list.push(str(a));
      else if (list.length === max) more = true;
      count++;
    }
  }
  return listWithMore(list, more, count, max);
}

const endpointSliceColumns: Column[] = [
  nameCol(),
  col("AddressType", "string", "addressType specifies the type of address carried by this EndpointSlice.", (o) => str(o?.addressType)),
  col("Ports", "string", "ports specifies the list of network ports exposed by each endpoint in this slice.", (o) => formatDiscoveryPorts(o?.ports)),
  col("Endpoints", "string", "endpoints is a list of unique endpoints in this slice.", (o) => formatDiscoveryEndpoints(o?.endpoints)),
  ageCol(),
];

export const networkingColumns: Record<string, Column[]> = {
  "networking.k8s.io/Ingress": ingressColumns,
  "networking.k8s.io/IngressClass": ingressClassColumns,
  "networking.k8s.io/NetworkPolicy": networkPolicyColumns,
  "networking.k8s.io/ServiceCIDR": serviceCIDRColumns,
  "networking.k8s.io/IPAddress": ipAddressColumns,
  "discovery.k8s.io/EndpointSlice": endpointSliceColumns,
};
