// The Pod Security Standards checks (k8s.io/pod-security-admission/policy), baseline and
// restricted, each giving upstream's reason and detail text for a violating pod spec. Checks run
// in upstream's order (by check ID); a restricted check replaces the baseline one it tightens.

export type Level = "privileged" | "baseline" | "restricted";

export interface Violation {
  reason: string;
  detail: string;
}

interface Check {
  id: string;
  level: "baseline" | "restricted";
  /** Baseline checks this restricted one replaces at the restricted level. */
  overrides?: string[];
  run(meta: any, spec: any): Violation | undefined;
}

interface Ctr {
  name: string;
  sc: any;
  c: any;
}

/** Init containers, containers, then ephemeral containers, as upstream visits them. */
function containers(spec: any): Ctr[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])].map((c: any) => ({ name: c?.name ?? "", sc: c?.securityContext ?? {}, c: c ?? {} }));
}

const plural = (one: string, many: string, n: number) => (n === 1 ? one : many);
const joinQuote = (xs: string[]) => xs.map((x) => JSON.stringify(x)).join(", ");
const uniq = (xs: string[]) => [...new Set(xs)];
const ctrs = (names: string[]) => `${plural("container", "containers", names.length)} ${joinQuote(names)}`;

const BASELINE_CAPS = new Set(["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]);
const SAFE_SYSCTLS = new Set([
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
]);
const RESTRICTED_VOLUMES = new Set(["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret", "image"]);
const VOLUME_SOURCES = [
  "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume", "quobyte",
  "azureDisk", "portworxVolume", "photonPersistentDisk", "scaleIO", "storageos", ...RESTRICTED_VOLUMES,
];
const SELINUX_TYPES = new Set(["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"]);

const CHECKS: Check[] = [
  {
    id: "allowPrivilegeEscalation",
    level: "restricted",
    run(_m, spec) {
      const bad = containers(spec).filter((x) => x.sc.allowPrivilegeEscalation !== false).map((x) => x.name);
      if (bad.length) return { reason: "allowPrivilegeEscalation != false", detail: `${ctrs(bad)} must set securityContext.allowPrivilegeEscalation=false` };
    },
  },
  {
    id: "appArmorProfile",
    level: "baseline",
    run(meta, spec) {
      const ok = (t: unknown) => t === undefined || t === "RuntimeDefault" || t === "Localhost";
      const details: string[] = [];
      if (!ok(spec.securityContext?.appArmorProfile?.type)) details.push(`pod must not set securityContext.appArmorProfile.type to ${JSON.stringify(spec.securityContext.appArmorProfile.type)}`);
      const bad = containers(spec).filter((x) => !ok(x.sc.appArmorProfile?.type));
      if (bad.length) details.push(`${ctrs(bad.map((x) => x.name))} must not set securityContext.appArmorProfile.type to ${joinQuote(uniq(bad.map((x) => x.sc.appArmorProfile.type)))}`);
      for (const [k, v] of Object.entries(meta?.annotations ?? {}))
        if (k.startsWith("container.apparmor.security.beta.kubernetes.io/") && v !== "runtime/default" && !String(v).startsWith("localhost/")) details.push(`${k}=${JSON.stringify(v)}`);
      if (details.length) return { reason: plural("forbidden AppArmor profile", "forbidden AppArmor profiles", details.length), detail: details.join(", ") };
    },
  },
  {
    id: "capabilities_baseline",
    level: "baseline",
    run(_m, spec) {
      const bad = containers(spec).filter((x) => (x.sc.capabilities?.add ?? []).some((c: string) => !BASELINE_CAPS.has(c)));
      if (!bad.length) return;
      const caps = uniq(bad.flatMap((x) => (x.sc.capabilities.add as string[]).filter((c) => !BASELINE_CAPS.has(c)))).sort();
      return { reason: "non-default capabilities", detail: `${ctrs(bad.map((x) => x.name))} must not include ${joinQuote(caps)} in securityContext.capabilities.add` };
    },
  },
  {
    id: "capabilities_restricted",
    level: "restricted",
    overrides: ["capabilities_baseline"],
    run(_m, spec) {
      const all = containers(spec);
      const noDrop = all.filter((x) => !(x.sc.capabilities?.drop ?? []).includes("ALL")).map((x) => x.name);
      const adding = all.filter((x) => (x.sc.capabilities?.add ?? []).some((c: string) => c !== "NET_BIND_SERVICE"));
      const details: string[] = [];
      if (noDrop.length) details.push(`${ctrs(noDrop)} must set securityContext.capabilities.drop=["ALL"]`);
      if (adding.length) {
        const caps = uniq(adding.flatMap((x) => (x.sc.capabilities.add as string[]).filter((c) => c !== "NET_BIND_SERVICE"))).sort();
        details.push(`${ctrs(adding.map((x) => x.name))} must not include ${joinQuote(caps)} in securityContext.capabilities.add`);
      }
      if (details.length) return { reason: "unrestricted capabilities", detail: details.join("; ") };
    },
  },
  {
    id: "hostNamespaces",
    level: "baseline",
    run(_m, spec) {
      const d = [spec.hostNetwork && "hostNetwork=true", spec.hostPID && "hostPID=true", spec.hostIPC && "hostIPC=true"].filter(Boolean) as string[];
      if (d.length) return { reason: "host namespaces", detail: d.join(", ") };
    },
  },
  {
    id: "hostPathVolumes",
    level: "baseline",
    run(_m, spec) {
      const bad = (spec.volumes ?? []).filter((v: any) => v?.hostPath).map((v: any) => v.name);
      if (bad.length) return { reason: "hostPath volumes", detail: `${plural("volume", "volumes", bad.length)} ${joinQuote(bad)}` };
    },
  },
  {
    id: "hostPorts",
    level: "baseline",
    run(_m, spec) {
      const bad: string[] = [];
      const ports: string[] = [];
      for (const x of containers(spec)) {
        const hp = (x.c.ports ?? []).map((p: any) => p?.hostPort).filter((p: any) => p);
        if (!hp.length) continue;
        bad.push(x.name);
        ports.push(...hp.map(String));
      }
      if (!bad.length) return;
      const ps = uniq(ports);
      return { reason: "hostPort", detail: `${ctrs(bad)} ${plural("uses", "use", bad.length)} ${plural("hostPort", "hostPorts", ps.length)} ${ps.join(", ")}` };
    },
  },
  {
    id: "hostProcess",
    level: "baseline",
    run(_m, spec) {
      const pod = spec.securityContext?.windowsOptions?.hostProcess === true;
      const bad = containers(spec).filter((x) => x.sc.windowsOptions?.hostProcess === true).map((x) => x.name);
      const d: string[] = [];
      if (pod) d.push("pod must not set securityContext.windowsOptions.hostProcess=true");
      if (bad.length) d.push(`${ctrs(bad)} must not set securityContext.windowsOptions.hostProcess=true`);
      if (d.length) return { reason: "hostProcess", detail: d.join(" and ") };
    },
  },
  {
    id: "privileged",
    level: "baseline",
    run(_m, spec) {
      const bad = containers(spec).filter((x) => x.sc.privileged === true).map((x) => x.name);
      if (bad.length) return { reason: "privileged", detail: `${ctrs(bad)} must not set securityContext.privileged=true` };
    },
  },
  {
    id: "procMount",
    level: "baseline",
    run(_m, spec) {
      const bad = containers(spec).filter((x) => x.sc.procMount !== undefined && x.sc.procMount !== "Default");
      if (bad.length) return { reason: "procMount", detail: `${ctrs(bad.map((x) => x.name))} must not set securityContext.procMount to ${joinQuote(uniq(bad.map((x) => x.sc.procMount)))}` };
    },
  },
  {
    id: "restrictedVolumes",
    level: "restricted",
    overrides: ["hostPathVolumes"],
    run(_m, spec) {
      const bad: string[] = [];
      const types: string[] = [];
      for (const v of spec.volumes ?? []) {
        const t = VOLUME_SOURCES.find((k) => v?.[k] !== undefined) ?? Object.keys(v ?? {}).find((k) => k !== "name");
        if (t && !RESTRICTED_VOLUMES.has(t)) {
          bad.push(v.name);
          types.push(t);
        }
      }
      if (!bad.length) return;
      const ts = uniq(types);
      return { reason: "restricted volume types", detail: `${plural("volume", "volumes", bad.length)} ${joinQuote(bad)} ${plural("uses", "use", bad.length)} ${plural("restricted volume type", "restricted volume types", ts.length)} ${joinQuote(ts)}` };
    },
  },
  {
    id: "runAsNonRoot",
    level: "restricted",
    run(_m, spec) {
      const pod = spec.securityContext?.runAsNonRoot;
      const setters: string[] = pod === false ? ["pod"] : [];
      const all = containers(spec);
      const explicit = all.filter((x) => x.sc.runAsNonRoot === false).map((x) => x.name);
      if (explicit.length) setters.push(ctrs(explicit));
      if (setters.length) return { reason: "runAsNonRoot != true", detail: `${setters.join(" and ")} must not set securityContext.runAsNonRoot=false` };
      const implicit = pod === true ? [] : all.filter((x) => x.sc.runAsNonRoot === undefined || x.sc.runAsNonRoot === null).map((x) => x.name);
      if (implicit.length) return { reason: "runAsNonRoot != true", detail: `pod or ${ctrs(implicit)} must set securityContext.runAsNonRoot=true` };
    },
  },
  {
    id: "runAsUser",
    level: "restricted",
    run(_m, spec) {
      const setters: string[] = spec.securityContext?.runAsUser === 0 ? ["pod"] : [];
      const bad = containers(spec).filter((x) => x.sc.runAsUser === 0).map((x) => x.name);
      if (bad.length) setters.push(ctrs(bad));
      if (setters.length) return { reason: "runAsUser=0", detail: `${setters.join(" and ")} must not set runAsUser=0` };
    },
  },
  {
    id: "seLinuxOptions",
    level: "baseline",
    run(_m, spec) {
      const d: string[] = [];
      const judge = (o: any, who: string) => {
        if (!o) return;
        const bad: string[] = [];
        if (o.type !== undefined && !SELINUX_TYPES.has(o.type)) bad.push(`type ${JSON.stringify(o.type)}`);
        if (o.user) bad.push(`user ${JSON.stringify(o.user)}`);
        if (o.role) bad.push(`role ${JSON.stringify(o.role)}`);
        if (bad.length) d.push(`${who} set forbidden securityContext.seLinuxOptions: ${bad.join("; ")}`);
      };
      judge(spec.securityContext?.seLinuxOptions, "pod");
      for (const x of containers(spec)) judge(x.sc.seLinuxOptions, `container ${JSON.stringify(x.name)}`);
      if (d.length) return { reason: "seLinuxOptions", detail: d.join("; ") };
    },
  },
  {
    id: "seccompProfile_baseline",
    level: "baseline",
    run(_m, spec) {
      const setters: string[] = spec.securityContext?.seccompProfile?.type === "Unconfined" ? ["pod"] : [];
      const bad = containers(spec).filter((x) => x.sc.seccompProfile?.type === "Unconfined").map((x) => x.name);
      if (bad.length) setters.push(ctrs(bad));
      if (setters.length) return { reason: "seccompProfile", detail: `${setters.join(" and ")} must not set securityContext.seccompProfile.type to "Unconfined"` };
    },
  },
  {
    id: "seccompProfile_restricted",
    level: "restricted",
    overrides: ["seccompProfile_baseline"],
    run(_m, spec) {
      const valid = (t: unknown) => t === "RuntimeDefault" || t === "Localhost";
      const podType = spec.securityContext?.seccompProfile?.type;
      const setters: string[] = [];
      const values: string[] = [];
      if (podType !== undefined && !valid(podType)) {
        setters.push("pod");
        values.push(podType);
      }
      const all = containers(spec);
      const explicit = all.filter((x) => x.sc.seccompProfile?.type !== undefined && !valid(x.sc.seccompProfile.type));
      if (explicit.length) {
        setters.push(ctrs(explicit.map((x) => x.name)));
        values.push(...explicit.map((x) => x.sc.seccompProfile.type));
      }
      const d: string[] = [];
      if (setters.length) d.push(`${setters.join(" and ")} must not set securityContext.seccompProfile.type to ${joinQuote(uniq(values))}`);
      if (podType === undefined) {
        const implicit = all.filter((x) => x.sc.seccompProfile?.type === undefined).map((x) => x.name);
        if (implicit.length) d.push(`pod or ${ctrs(implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`);
      }
      if (d.length) return { reason: "seccompProfile", detail: d.join("; ") };
    },
  },
  {
    id: "sysctls",
    level: "baseline",
    run(_m, spec) {
      const bad = (spec.securityContext?.sysctls ?? []).map((s: any) => s?.name).filter((n: string) => !SAFE_SYSCTLS.has(n));
      if (bad.length) return { reason: "forbidden sysctls", detail: bad.join(", ") };
    },
  },
];

/** The violations of a pod (metadata, spec) at a level; none for privileged. */
export function violations(level: Level, meta: any, spec: any): Violation[] {
  if (level === "privileged") return [];
  const active = CHECKS.filter((c) => c.level === "baseline" || level === "restricted");
  const overridden = new Set(active.flatMap((c) => c.overrides ?? []));
  const out: Violation[] = [];
  for (const c of active) {
    if (overridden.has(c.id)) continue;
    const v = c.run(meta ?? {}, spec ?? {});
    if (v) out.push(v);
  }
  return out;
}
