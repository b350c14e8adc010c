// skiff describe KIND [NAME]: kubectl-style descriptions (Pod, Deployment, Service, Node,
// ConfigMap, Secret, Namespace; a generic one otherwise) followed by the object's Events.
import { ApiError, resourcePath, type KubeClient } from "../../lib/client";
import { findByKind, type RegisteredResource } from "../../schemas/registry";
import { err, forEachTarget, makeCtx, out, parseFlags, parseTypeNames, reportError, type FlagSpec } from "./common";
import { age, tabwrite } from "./printers";
import { formatLabelSelector, labelSelectorString } from "../../schemas/helpers/selectors";

const spec: FlagSpec = {
  selector: { type: "string", short: "l" },
  "all-namespaces": { type: "bool", short: "A" },
  "show-events": { type: "bool", default: true },
  filename: { type: "strings", short: "f", default: [] },
};

export async function run(args: string[]): Promise<number> {
  try {
    const p = parseFlags(args, spec, "skiff describe");
    const ctx = makeCtx(p);
    const t = parseTypeNames(p.positional);
    const targets: [RegisteredResource, string | undefined][] = [];
    if (t.typed) targets.push(...t.typed);
    else
      for (const r of t.res) {
        if (t.names.length) for (const n of t.names) targets.push([r, n]);
        else targets.push([r, undefined]);
      }
    const allNs = !!p.flags["all-namespaces"];
    let first = true;
    const failed = await forEachTarget(targets, async ([r, name]) => {
      const ns = r.namespaced ? (allNs ? undefined : ctx.namespace) : undefined;
      let objs: any[];
      if (name !== undefined) objs = [await ctx.client.get(resourcePath(r, ns, name))];
      else {
        const list = await ctx.client.list(resourcePath(r, ns), { labelSelector: p.flags.selector });
        objs = list.items ?? [];
        if (!objs.length) {
          err(r.namespaced && !allNs ? `No resources found in ${ctx.namespace} namespace.\n` : "No resources found\n");
          return;
        }
      }
      for (const o of objs) {
        if (!first) out("\n\n");
        first = false;
        out(await describe(ctx.client, r, o, p.flags["show-events"]));
      }
    });
    return failed ? 1 : 0;
  } catch (e) {
    return reportError(e);
  }
}

/** Builds kubectl's describe text: lines with tab-separated cells at an indent level. */
class Desc {
  private lines: string[] = [];
  w(level: number, text: string): void {
    this.lines.push("  ".repeat(level) + text);
  }
  toString(): string {
    return tabwrite(this.lines.join("\n"), 0, 2) + "\n";
  }
}

/** RFC 1123 with numeric zone, like Go's time.RFC1123Z (kubectl's describe times). */
export function rfc1123z(ts: string | undefined): string {
  if (!ts) return "<unset>";
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const p2 = (n: number) => String(Math.abs(n)).padStart(2, "0");
  return `${days[d.getDay()]}, ${p2(d.getDate())} ${months[d.getMonth()]} ${d.getFullYear()} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${sign}${p2(Math.trunc(off / 60))}${p2(off % 60)}`;
}

function mapLines(d: Desc, level: number, title: string, m: Record<string, string> | undefined, sep: "=" | ": "): void {
  const keys = Object.keys(m ?? {}).sort();
  if (!keys.length) return d.w(level, `${title}:\t<none>`);
  keys.forEach((k, i) => d.w(level, `${i === 0 ? `${title}:` : ""}\t${k}${sep}${m![k]}`));
}

function header(d: Desc, o: any, r: RegisteredResource): void {
  d.w(0, `Name:\t${o.metadata?.name}`);
  if (r.namespaced) d.w(0, `Namespace:\t${o.metadata?.namespace}`);
}

function labelsAnnotations(d: Desc, o: any, level = 0): void {
  mapLines(d, level, "Labels", o.metadata?.labels, "=");
  mapLines(d, level, "Annotations", o.metadata?.annotations, ": ");
}

export async function describe(client: KubeClient, r: RegisteredResource, o: any, showEvents = true): Promise<string> {
  const d = new Desc();
  const key = `${r.group}/${r.kind}`;
  switch (key) {
    case "/Pod":
      describePod(d, o);
      break;
    case "apps/Deployment":
      await describeDeployment(client, d, o);
      break;
    case "/Service":
      await describeService(client, d, o);
      break;
    case "/Node":
      await describeNode(client, d, o);
      break;
    case "/ConfigMap":
    case "/Secret":
      describeData(d, o, r);
      break;
    case "/Namespace":
      header(d, o, r);
      labelsAnnotations(d, o);
      d.w(0, `Status:\t${o.status?.phase ?? "Active"}`);
      break;
    default:
      describeGeneric(d, o, r);
  }
  if (showEvents) await describeEvents(client, d, o, r);
  return d.toString();
}

function ports(c: any): { port: string; host: string }[] {
  return (c.ports ?? []).map((p: any) => ({
    port: `${p.containerPort}/${p.protocol ?? "TCP"}${p.name ? ` (${p.name})` : ""}`,
    host: `${p.hostPort ?? 0}/${p.protocol ?? "TCP"}`,
  }));
}

function containerState(d: Desc, level: number, title: string, st: any): void {
  if (!st || !Object.keys(st).length) return d.w(level, `${title}:\tWaiting`);
  if (st.running) {
    d.w(level, `${title}:\tRunning`);
    d.w(level + 1, `Started:\t${rfc1123z(st.running.startedAt)}`);
  } else if (st.waiting) {
    d.w(level, `${title}:\tWaiting`);
    if (st.waiting.reason) d.w(level + 1, `Reason:\t${st.waiting.reason}`);
    if (st.waiting.message) d.w(level + 1, `Message:\t${st.waiting.message}`);
  } else if (st.terminated) {
    d.w(level, `${title}:\tTerminated`);
    if (st.terminated.reason) d.w(level + 1, `Reason:\t${st.terminated.reason}`);
    if (st.terminated.message) d.w(level + 1, `Message:\t${st.terminated.message}`);
    d.w(level + 1, `Exit Code:\t${st.terminated.exitCode}`);
    if (st.terminated.signal) d.w(level + 1, `Signal:\t${st.terminated.signal}`);
    d.w(level + 1, `Started:\t${rfc1123z(st.terminated.startedAt)}`);
    d.w(level + 1, `Finished:\t${rfc1123z(st.terminated.finishedAt)}`);
  }
}

function resourceList(d: Desc, level: number, title: string, rl: Record<string, string> | undefined): void {
  const keys = Object.keys(rl ?? {}).sort();
  if (!keys.length) return;
  d.w(level, `${title}:`);
  for (const k of keys) d.w(level + 1, `${k}:\t${rl![k]}`);
}

function probe(p: any): string {
  let how = "unknown";
  if (p.httpGet) how = `http-get ${p.httpGet.scheme === "HTTPS" ? "https" : "http"}://${p.httpGet.host ?? ""}:${p.httpGet.port}${p.httpGet.path ?? ""}`;
  else if (p.tcpSocket) how = `tcp-socket ${p.tcpSocket.host ?? ""}:${p.tcpSocket.port}`;
  else if (p.exec) how = `exec [${(p.exec.command ?? []).join(" ")}]`;
  else if (p.grpc) how = `grpc <pod>:${p.grpc.port} ${p.grpc.service ?? ""}`;
  return `${how} delay=${p.initialDelaySeconds ?? 0}s timeout=${p.timeoutSeconds ?? 1}s period=${p.periodSeconds ?? 10}s #success=${p.successThreshold ?? 1} #failure=${p.failureThreshold ?? 3}`;
}

function describeContainers(d: Desc, level: number, title: string, containers: any[], statuses: any[] | undefined, space = "  "): void {
  d.w(level, `${title}:`);
  for (const c of containers) {
    const st = statuses?.find((s) => s.name === c.name);
    d.w(level, `${space}${c.name}:`);
    // kubectl puts container fields at four spaces both in a Pod and in a Pod Template.
    const l = Math.max(2, level + 1);
    const w = (t: string) => d.w(l, t);
    if (st?.containerID) w(`Container ID:\t${st.containerID}`);
    w(`Image:\t${c.image ?? ""}`);
    if (statuses) w(`Image ID:\t${st?.imageID ?? ""}`);
    const ps = ports(c);
    if (!ps.length) {
      w(`Port:\t<none>`);
      w(`Host Port:\t<none>`);
    } else {
      w(`Port${ps.length > 1 ? "s" : ""}:\t${ps.map((p) => p.port).join(", ")}`);
      w(`Host Port${ps.length > 1 ? "s" : ""}:\t${ps.map((p) => p.host).join(", ")}`);
    }
    if (c.command?.length) {
      w(`Command:`);
      for (const x of c.command) w(`  ${x}`);
    }
    if (c.args?.length) {
      w(`Args:`);
      for (const x of c.args) w(`  ${x}`);
    }
    if (statuses) {
      containerState(d, l, "State", st?.state);
      if (st?.lastState && Object.keys(st.lastState).length) containerState(d, l, "Last State", st.lastState);
      w(`Ready:\t${st?.ready ? "True" : "False"}`);
      w(`Restart Count:\t${st?.restartCount ?? 0}`);
    }
    if (c.resources?.limits) resourceList(d, l, "Limits", c.resources.limits);
    if (c.resources?.requests) resourceList(d, l, "Requests", c.resources.requests);
    if (c.livenessProbe) w(`Liveness:\t${probe(c.livenessProbe)}`);
    if (c.readinessProbe) w(`Readiness:\t${probe(c.readinessProbe)}`);
    if (c.startupProbe) w(`Startup:\t${probe(c.startupProbe)}`);
    const env: any[] = c.env ?? [];
    if (!env.length) w(`Environment:\t<none>`);
    else {
      w(`Environment:`);
      for (const e of env) {
        let v = e.value ?? "";
        const vf = e.valueFrom;
        if (vf?.fieldRef) v = `(${vf.fieldRef.apiVersion ?? "v1"}:${vf.fieldRef.fieldPath})`;
        else if (vf?.secretKeyRef) v = `<set to the key '${vf.secretKeyRef.key}' in secret '${vf.secretKeyRef.name}'>`;
        else if (vf?.configMapKeyRef) v = `<set to the key '${vf.configMapKeyRef.key}' of config map '${vf.configMapKeyRef.name}'>`;
        else if (vf?.resourceFieldRef) v = `${vf.resourceFieldRef.resource}`;
        w(`  ${e.name}:\t${v}`);
      }
    }
    const mounts: any[] = c.volumeMounts ?? [];
    if (!mounts.length) w(`Mounts:\t<none>`);
    else {
      w(`Mounts:`);
      for (const m of mounts) w(`  ${m.mountPath} from ${m.name} (${m.readOnly ? "ro" : "rw"}${m.subPath ? `,path="${m.subPath}"` : ""})`);
    }
  }
}

function describeVolumes(d: Desc, level: number, vols: any[] | undefined): void {
  if (!vols?.length) return d.w(level, `Volumes:\t<none>`);
  d.w(level, `Volumes:`);
  for (const v of vols) {
    d.w(level + 1, `${v.name}:`);
    const l = level + 2;
    if (v.emptyDir) {
      d.w(l, `Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)`);
      d.w(l, `Medium:\t${v.emptyDir.medium ?? ""}`);
      d.w(l, `SizeLimit:\t${v.emptyDir.sizeLimit ?? "<unset>"}`);
    } else if (v.hostPath) {
      d.w(l, `Type:\tHostPath (bare host directory volume)`);
      d.w(l, `Path:\t${v.hostPath.path}`);
      d.w(l, `HostPathType:\t${v.hostPath.type ?? ""}`);
    } else if (v.configMap) {
      d.w(l, `Type:\tConfigMap (a volume populated by a ConfigMap)`);
      d.w(l, `Name:\t${v.configMap.name}`);
      d.w(l, `Optional:\t${v.configMap.optional ?? false}`);
    } else if (v.secret) {
      d.w(l, `Type:\tSecret (a volume populated by a Secret)`);
      d.w(l, `SecretName:\t${v.secret.secretName}`);
      d.w(l, `Optional:\t${v.secret.optional ?? false}`);
    } else if (v.persistentVolumeClaim) {
      d.w(l, `Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)`);
      d.w(l, `ClaimName:\t${v.persistentVolumeClaim.claimName}`);
      d.w(l, `ReadOnly:\t${v.persistentVolumeClaim.readOnly ?? false}`);
    } else if (v.projected) {
      d.w(l, `Type:\tProjected (a volume that contains injected data from multiple sources)`);
    } else {
      const type = Object.keys(v).find((k) => k !== "name") ?? "unknown";
      d.w(l, `Type:\t${type}`);
    }
  }
}

function describePod(d: Desc, o: any): void {
  const spec = o.spec ?? {};
  const st = o.status ?? {};
  d.w(0, `Name:\t${o.metadata?.name}`);
  d.w(0, `Namespace:\t${o.metadata?.namespace}`);
  d.w(0, `Priority:\t${spec.priority ?? 0}`);
  if (spec.priorityClassName) d.w(0, `Priority Class Name:\t${spec.priorityClassName}`);
  d.w(0, `Service Account:\t${spec.serviceAccountName ?? "default"}`);
  d.w(0, `Node:\t${spec.nodeName ? `${spec.nodeName}${st.hostIP ? `/${st.hostIP}` : ""}` : "<none>"}`);
  if (st.startTime) d.w(0, `Start Time:\t${rfc1123z(st.startTime)}`);
  labelsAnnotations(d, o);
  if (o.metadata?.deletionTimestamp) {
    d.w(0, `Status:\tTerminating (lasts ${age(o.metadata.deletionTimestamp)})`);
    d.w(0, `Termination Grace Period:\t${o.metadata.deletionGracePeriodSeconds ?? 30}s`);
  } else d.w(0, `Status:\t${st.phase ?? "Pending"}`);
  if (st.reason) d.w(0, `Reason:\t${st.reason}`);
  if (st.message) d.w(0, `Message:\t${st.message}`);
  d.w(0, `IP:\t${st.podIP ?? ""}`);
  const ips: any[] = st.podIPs ?? [];
  if (!ips.length) d.w(0, `IPs:\t<none>`);
  else {
    d.w(0, `IPs:`);
    for (const ip of ips) d.w(1, `IP:\t${ip.ip}`);
  }
  const owner = (o.metadata?.ownerReferences ?? []).find((x: any) => x.controller);
  if (owner) d.w(0, `Controlled By:\t${owner.kind}/${owner.name}`);
  if (spec.initContainers?.length) describeContainers(d, 0, "Init Containers", spec.initContainers, st.initContainerStatuses ?? []);
  describeContainers(d, 0, "Containers", spec.containers ?? [], st.containerStatuses ?? []);
  const conds: any[] = st.conditions ?? [];
  if (conds.length) {
    d.w(0, `Conditions:`);
    d.w(1, `Type\tStatus`);
    for (const c of conds) d.w(1, `${c.type} \t${c.status} `);
  }
  describeVolumes(d, 0, spec.volumes);
  d.w(0, `QoS Class:\t${st.qosClass ?? "BestEffort"}`);
  const ns = spec.nodeSelector ?? {};
  mapLines(d, 0, "Node-Selectors", ns, "=");
  const tol: any[] = spec.tolerations ?? [];
  if (!tol.length) d.w(0, `Tolerations:\t<none>`);
  else
    tol.forEach((t, i) => {
      let s = t.key ?? "";
      if (t.value) s += `=${t.value}`;
      if (t.effect) s += `:${t.effect}`;
      if (t.operator === "Exists" && !t.key) s = "op=Exists";
      else if (t.operator === "Exists") s += " op=Exists";
      if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null) s += ` for ${t.tolerationSeconds}s`;
      d.w(0, `${i === 0 ? "Tolerations:" : ""}\t${s}`);
    });
}

async function describeDeployment(client: KubeClient, d: Desc, o: any): Promise<void> {
  const spec = o.spec ?? {};
  const st = o.status ?? {};
  d.w(0, `Name:\t${o.metadata?.name}`);
  d.w(0, `Namespace:\t${o.metadata?.namespace}`);
  d.w(0, `CreationTimestamp:\t${rfc1123z(o.metadata?.creationTimestamp)}`);
  labelsAnnotations(d, o);
  d.w(0, `Selector:\t${formatLabelSelector(spec.selector)}`);
  const desired = spec.replicas ?? 1;
  d.w(
    0,
    `Replicas:\t${desired} desired | ${st.updatedReplicas ?? 0} updated | ${st.replicas ?? 0} total | ${st.availableReplicas ?? 0} available | ${st.unavailableReplicas ?? 0} unavailable`,
  );
  const strategy = spec.strategy?.type ?? "RollingUpdate";
  d.w(0, `StrategyType:\t${strategy}`);
  d.w(0, `MinReadySeconds:\t${spec.minReadySeconds ?? 0}`);
  if (strategy === "RollingUpdate") {
    const ru = spec.strategy?.rollingUpdate ?? {};
    d.w(0, `RollingUpdateStrategy:\t${ru.maxUnavailable ?? "25%"} max unavailable, ${ru.maxSurge ?? "25%"} max surge`);
  }
  describeTemplate(d, spec.template);
  const conds: any[] = st.conditions ?? [];
  if (conds.length) {
    d.w(0, `Conditions:`);
    d.w(1, `Type\tStatus\tReason`);
    d.w(1, `----\t------\t------`);
    for (const c of conds) d.w(1, `${c.type} \t${c.status}\t${c.reason ?? ""}`);
  }
  // The ReplicaSets it owns: the newest revision is the "new" one.
  try {
    const ns = o.metadata?.namespace;
    const rsRes = findByKind("apps/v1", "ReplicaSet");
    if (rsRes) {
      const list = await client.list(resourcePath(rsRes, ns), { labelSelector: labelSelectorString(spec.selector) });
      const owned = (list.items ?? []).filter((rs: any) => (rs.metadata?.ownerReferences ?? []).some((x: any) => x.uid === o.metadata?.uid));
      const rev = (rs: any) => Number(rs.metadata?.annotations?.["deployment.kubernetes.io/revision"] ?? 0);
      owned.sort((a: any, b: any) => rev(b) - rev(a));
      const fmt = (rs: any) => `${rs.metadata.name} (${rs.status?.replicas ?? 0}/${rs.spec?.replicas ?? 0} replicas created)`;
      const newRs = owned[0];
      const old = owned.slice(1).filter((rs: any) => (rs.spec?.replicas ?? 0) > 0 || (rs.status?.replicas ?? 0) > 0);
      d.w(0, `OldReplicaSets:\t${old.length ? old.map(fmt).join(", ") : "<none>"}`);
      d.w(0, `NewReplicaSet:\t${newRs ? fmt(newRs) : "<none>"}`);
    }
  } catch {
    /* ReplicaSets are extra information; describe still works without them */
  }
}

function describeTemplate(d: Desc, tpl: any): void {
  d.w(0, `Pod Template:`);
  mapLines(d, 1, "Labels", tpl?.metadata?.labels, "=");
  if (tpl?.metadata?.annotations) mapLines(d, 1, "Annotations", tpl.metadata.annotations, ": ");
  if (tpl?.spec?.serviceAccountName) d.w(1, `Service Account:\t${tpl.spec.serviceAccountName}`);
  if (tpl?.spec?.initContainers?.length) describeContainers(d, 1, "Init Containers", tpl.spec.initContainers, undefined, " ");
  describeContainers(d, 1, "Containers", tpl?.spec?.containers ?? [], undefined, " ");
  describeVolumes(d, 1, tpl?.spec?.volumes);
  const ns = tpl?.spec?.nodeSelector ?? {};
  d.w(1, `Node-Selectors:\t${Object.keys(ns).length ? Object.entries(ns).map(([k, v]) => `${k}=${v}`).join(",") : "<none>"}`);
  d.w(1, `Tolerations:\t${tpl?.spec?.tolerations?.length ? tpl.spec.tolerations.map((t: any) => `${t.key ?? ""}${t.effect ? `:${t.effect}` : ""}`).join(", ") : "<none>"}`);
}

async function describeService(client: KubeClient, d: Desc, o: any): Promise<void> {
  const spec = o.spec ?? {};
  d.w(0, `Name:\t${o.metadata?.name}`);
  d.w(0, `Namespace:\t${o.metadata?.namespace}`);
  labelsAnnotations(d, o);
  const sel = spec.selector ?? {};
  d.w(0, `Selector:\t${Object.keys(sel).length ? Object.keys(sel).sort().map((k) => `${k}=${sel[k]}`).join(",") : "<none>"}`);
  d.w(0, `Type:\t${spec.type ?? "ClusterIP"}`);
  if (spec.ipFamilyPolicy) d.w(0, `IP Family Policy:\t${spec.ipFamilyPolicy}`);
  if (spec.ipFamilies?.length) d.w(0, `IP Families:\t${spec.ipFamilies.join(",")}`);
  d.w(0, `IP:\t${spec.clusterIP ?? ""}`);
  d.w(0, `IPs:\t${(spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : [])).join(",") || "<none>"}`);
  if (spec.externalIPs?.length) d.w(0, `External IPs:\t${spec.externalIPs.join(",")}`);
  const ing = o.status?.loadBalancer?.ingress ?? [];
  if (ing.length) d.w(0, `LoadBalancer Ingress:\t${ing.map((i: any) => i.ip ?? i.hostname).join(", ")}`);
  if (spec.type === "ExternalName") d.w(0, `External Name:\t${spec.externalName}`);
  let endpoints: Record<string, string[]> = {};
  try {
    const esRes = findByKind("discovery.k8s.io/v1", "EndpointSlice");
    if (esRes) {
      const list = await client.list(resourcePath(esRes, o.metadata?.namespace), { labelSelector: `kubernetes.io/service-name=${o.metadata?.name}` });
      for (const es of list.items ?? [])
        for (const p of es.ports ?? [{ name: "" }])
          for (const e of es.endpoints ?? [])
            if (e.conditions?.ready !== false) for (const a of e.addresses ?? []) (endpoints[p.name ?? ""] ??= []).push(p.port ? `${a}:${p.port}` : a);
    }
  } catch {
    endpoints = {};
  }
  for (const p of spec.ports ?? []) {
    const pname = p.name ?? "";
    d.w(0, `Port:\t${pname || "<unset>"}  ${p.port}/${p.protocol ?? "TCP"}`);
    const tp = p.targetPort ?? p.port;
    d.w(0, `TargetPort:\t${tp}/${p.protocol ?? "TCP"}`);
    if (p.nodePort) d.w(0, `NodePort:\t${pname || "<unset>"}  ${p.nodePort}/${p.protocol ?? "TCP"}`);
    const eps = endpoints[pname] ?? [];
    d.w(0, `Endpoints:\t${eps.length ? eps.slice(0, 3).join(",") + (eps.length > 3 ? ` + ${eps.length - 3} more...` : "") : ""}`);
  }
  d.w(0, `Session Affinity:\t${spec.sessionAffinity ?? "None"}`);
  if (spec.externalTrafficPolicy) d.w(0, `External Traffic Policy:\t${spec.externalTrafficPolicy}`);
  if (spec.internalTrafficPolicy) d.w(0, `Internal Traffic Policy:\t${spec.internalTrafficPolicy}`);
}

async function describeNode(client: KubeClient, d: Desc, o: any): Promise<void> {
  const spec = o.spec ?? {};
  const st = o.status ?? {};
  const labels = o.metadata?.labels ?? {};
  const roles = Object.keys(labels)
    .filter((k) => k.startsWith("node-role.kubernetes.io/"))
    .map((k) => k.slice("node-role.kubernetes.io/".length))
    .filter(Boolean);
  d.w(0, `Name:\t${o.metadata?.name}`);
  d.w(0, `Roles:\t${roles.length ? roles.sort().join(",") : "<none>"}`);
  labelsAnnotations(d, o);
  d.w(0, `CreationTimestamp:\t${rfc1123z(o.metadata?.creationTimestamp)}`);
  const taints: any[] = spec.taints ?? [];
  if (!taints.length) d.w(0, `Taints:\t<none>`);
  else taints.forEach((t, i) => d.w(0, `${i === 0 ? "Taints:" : ""}\t${t.key}${t.value ? `=${t.value}` : ""}:${t.effect}`));
  d.w(0, `Unschedulable:\t${spec.unschedulable ? "true" : "false"}`);
  const conds: any[] = st.conditions ?? [];
  if (conds.length) {
    d.w(0, `Conditions:`);
    d.w(1, `Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage`);
    d.w(1, `----\t------\t-----------------\t------------------\t------\t-------`);
    for (const c of conds)
      d.w(1, `${c.type} \t${c.status} \t${rfc1123z(c.lastHeartbeatTime)} \t${rfc1123z(c.lastTransitionTime)} \t${c.reason ?? ""} \t${c.message ?? ""}`);
  }
  d.w(0, `Addresses:`);
  for (const a of st.addresses ?? []) d.w(1, `${a.type}:\t${a.address}`);
  resourceList(d, 0, "Capacity", st.capacity);
  resourceList(d, 0, "Allocatable", st.allocatable);
  const ni = st.nodeInfo;
  if (ni) {
    d.w(0, `System Info:`);
    const rows: [string, string | undefined][] = [
      ["Machine ID", ni.machineID],
      ["System UUID", ni.systemUUID],
      ["Boot ID", ni.bootID],
      ["Kernel Version", ni.kernelVersion],
      ["OS Image", ni.osImage],
      ["Operating System", ni.operatingSystem],
      ["Architecture", ni.architecture],
      ["Container Runtime Version", ni.containerRuntimeVersion],
      ["Kubelet Version", ni.kubeletVersion],
      ["Kube-Proxy Version", ni.kubeProxyVersion],
    ];
    for (const [k, v] of rows) d.w(1, `${k}:\t${v ?? ""}`);
  }
  if (spec.podCIDR) d.w(0, `PodCIDR:\t${spec.podCIDR}`);
  if (spec.podCIDRs?.length) d.w(0, `PodCIDRs:\t${spec.podCIDRs.join(",")}`);
  try {
    const podRes = findByKind("v1", "Pod");
    if (podRes) {
      const list = await client.list(resourcePath(podRes), { fieldSelector: `spec.nodeName=${o.metadata?.name}` });
      const pods = (list.items ?? []).filter((p: any) => p.spec?.nodeName === o.metadata?.name && !["Succeeded", "Failed"].includes(p.status?.phase));
      d.w(0, `Non-terminated Pods:\t(${pods.length} in total)`);
      if (pods.length) {
        d.w(1, `Namespace\tName\tAge`);
        d.w(1, `---------\t----\t---`);
        for (const p of pods) d.w(1, `${p.metadata.namespace}\t${p.metadata.name}\t${age(p.metadata.creationTimestamp)}`);
      }
    }
  } catch {
    /* optional */
  }
}

function describeData(d: Desc, o: any, r: RegisteredResource): void {
  header(d, o, r);
  labelsAnnotations(d, o);
  d.w(0, "");
  if (r.kind === "Secret") {
    d.w(0, `Type:\t${o.type ?? "Opaque"}`);
    d.w(0, "");
    d.w(0, "Data");
    d.w(0, "====");
    for (const k of Object.keys(o.data ?? {}).sort()) d.w(0, `${k}:\t${Buffer.from(o.data[k], "base64").length} bytes`);
    return;
  }
  d.w(0, "Data");
  d.w(0, "====");
  for (const k of Object.keys(o.data ?? {}).sort()) {
    d.w(0, `${k}:`);
    d.w(0, "----");
    d.w(0, String(o.data[k]).replace(/\t/g, "    "));
    d.w(0, "");
  }
  d.w(0, "");
  d.w(0, "BinaryData");
  d.w(0, "====");
  for (const k of Object.keys(o.binaryData ?? {}).sort()) d.w(0, `${k}: ${Buffer.from(o.binaryData[k], "base64").length} bytes`);
  d.w(0, "");
}

/** "creationTimestamp" → "Creation Timestamp" (kubectl's generic describer). */
export function titleCase(k: string): string {
  const s = k.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function describeValue(d: Desc, level: number, key: string, v: any): void {
  if (v === null || v === undefined) return d.w(level, `${key}:\t<nil>`);
  if (Array.isArray(v)) {
    d.w(level, `${key}:`);
    for (const item of v) {
      if (item && typeof item === "object") {
        const entries = Object.entries(item);
        entries.forEach(([k, x], i) => {
          if (i === 0 && (x === null || typeof x !== "object")) d.w(level + 1, `${titleCase(k)}:\t${x}`);
          else describeValue(d, level + 1, titleCase(k), x);
        });
      } else d.w(level + 1, String(item));
    }
    return;
  }
  if (typeof v === "object") {
    d.w(level, `${key}:`);
    for (const [k, x] of Object.entries(v)) describeValue(d, level + 1, titleCase(k), x);
    return;
  }
  d.w(level, `${key}:\t${String(v).replace(/\t/g, " ")}`);
}

function describeGeneric(d: Desc, o: any, r: RegisteredResource): void {
  header(d, o, r);
  labelsAnnotations(d, o);
  d.w(0, `API Version:\t${o.apiVersion ?? r.apiVersion}`);
  d.w(0, `Kind:\t${o.kind ?? r.kind}`);
  const { labels: _l, annotations: _a, managedFields: _m, name: _n, namespace: _ns, ...meta } = o.metadata ?? {};
  describeValue(d, 0, "Metadata", meta);
  for (const [k, v] of Object.entries(o)) {
    if (k === "apiVersion" || k === "kind" || k === "metadata") continue;
    describeValue(d, 0, titleCase(k), v);
  }
}

async function describeEvents(client: KubeClient, d: Desc, o: any, r: RegisteredResource): Promise<void> {
  const evRes = findByKind("v1", "Event");
  let events: any[] = [];
  if (evRes) {
    const m = o.metadata ?? {};
    const sel = [`involvedObject.name=${m.name}`, `involvedObject.namespace=${m.namespace ?? ""}`, `involvedObject.kind=${r.kind}`, m.uid ? `involvedObject.uid=${m.uid}` : ""]
      .filter(Boolean)
      .join(",");
    try {
      const list = await client.list(resourcePath(evRes, m.namespace || "default"), { fieldSelector: sel });
      events = (list.items ?? []).filter(
        (e: any) => e.involvedObject?.name === m.name && (!m.uid || !e.involvedObject?.uid || e.involvedObject.uid === m.uid),
      );
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
    }
  }
  if (!events.length) return d.w(0, `Events:\t<none>`);
  const when = (e: any) => e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
  events.sort((a, b) => Date.parse(when(a) ?? 0) - Date.parse(when(b) ?? 0));
  d.w(0, `Events:`);
  d.w(1, `Type\tReason\tAge\tFrom\tMessage`);
  d.w(1, `----\t------\t----\t----\t-------`);
  for (const e of events) {
    const last = when(e);
    const first = e.firstTimestamp ?? e.eventTime ?? last;
    const count = e.count ?? e.series?.count ?? 1;
    const ageStr = count > 1 ? `${age(last)} (x${count} over ${age(first)})` : age(last);
    const from = e.source?.component ? `${e.source.component}${e.source.host ? `, ${e.source.host}` : ""}` : (e.reportingComponent ?? e.reportingController ?? "");
    d.w(1, `${e.type ?? "Normal"}\t${e.reason ?? ""}\t${ageStr}\t${from}\t${String(e.message ?? "").trim()}`);
  }
}
