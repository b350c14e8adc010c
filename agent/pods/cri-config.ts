// Pod → CRI PodSandboxConfig and ContainerConfig, like kubelet's kuberuntime
// (generatePodSandboxConfig, generateContainerConfig): labels that let the agent find its
// sandboxes and containers again after a restart, namespaces, port mappings, DNS, cgroup parent,
// security context, resources, mounts, log paths.

import { join } from "node:path";
import type { ContainerConfig, LinuxContainerSecurityContext, Mount, NamespaceOption, PodSandboxConfig, PortMapping } from "../cri/client.ts";
import { containerLogRelPath, podLogDir } from "../logs/logs.ts";
import type { MountedVolume } from "../volumes/manager.ts";
import { expandSubPathExpr, prepareSubPath } from "../volumes/subpath.ts";
import { linuxResources, qosClass } from "./resources.ts";
import type { Container, Pod } from "./types.ts";

export const L = {
  podName: "io.kubernetes.pod.name",
  podNamespace: "io.kubernetes.pod.namespace",
  podUid: "io.kubernetes.pod.uid",
  containerName: "io.kubernetes.container.name",
  managed: "skiff.io/managed",
  init: "skiff.io/init-container",
} as const;

export const A = {
  restartCount: "io.kubernetes.container.restartCount",
  hash: "io.kubernetes.container.hash",
  terminationMessagePath: "io.kubernetes.container.terminationMessagePath",
  terminationMessagePolicy: "io.kubernetes.container.terminationMessagePolicy",
  gracePeriod: "io.kubernetes.pod.terminationGracePeriod",
  /** Host file mounted at terminationMessagePath. */
  terminationLogFile: "skiff.io/termination-log",
} as const;

export interface SandboxOptions {
  dataDir: string;
  /** cgroupfs parent for all pods, e.g. "/skiff" → /skiff/<qos>/pod<uid>. */
  cgroupRoot: string;
  clusterDns?: string[];
  clusterDomain?: string;
  attempt: number;
}

export function podLabels(pod: Pod): Record<string, string> {
  return {
    [L.podName]: pod.metadata.name,
    [L.podNamespace]: pod.metadata.namespace ?? "default",
    [L.podUid]: pod.metadata.uid,
    [L.managed]: "true",
  };
}

export function podCgroupParent(pod: Pod, root: string): string {
  const qos = qosClass(pod).toLowerCase();
  const base = root.replace(/\/+$/, "");
  return qos === "guaranteed" ? `${base}/pod${pod.metadata.uid}` : `${base}/${qos}/pod${pod.metadata.uid}`;
}

function namespaceOptions(pod: Pod): NamespaceOption {
  return {
    network: pod.spec.hostNetwork ? "NODE" : "POD",
    pid: pod.spec.hostPID ? "NODE" : pod.spec.shareProcessNamespace ? "POD" : "CONTAINER",
    ipc: pod.spec.hostIPC ? "NODE" : "POD",
  };
}

function portMappings(pod: Pod): PortMapping[] {
  const out: PortMapping[] = [];
  for (const c of pod.spec.containers) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort) continue;
      out.push({ protocol: (p.protocol ?? "TCP") as PortMapping["protocol"], containerPort: p.containerPort, hostPort: p.hostPort, hostIp: p.hostIP ?? "" });
    }
  }
  return out;
}

export function hostnameOf(pod: Pod): string {
  return (pod.spec.hostname || pod.metadata.name).slice(0, 63).replace(/[-.]+$/, "");
}

export function sandboxConfig(pod: Pod, o: SandboxOptions): PodSandboxConfig {
  const ns = pod.metadata.namespace ?? "default";
  const anyPrivileged = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].some((c) => c.securityContext?.privileged);
  const psc = pod.spec.securityContext ?? {};
  const cfg: PodSandboxConfig = {
    metadata: { name: pod.metadata.name, uid: pod.metadata.uid, namespace: ns, attempt: o.attempt },
    hostname: pod.spec.hostNetwork ? "" : hostnameOf(pod),
    logDirectory: podLogDir(o.dataDir, ns, pod.metadata.name, pod.metadata.uid),
    portMappings: portMappings(pod),
    labels: podLabels(pod),
    annotations: { ...(pod.metadata.annotations ?? {}) },
    linux: {
      cgroupParent: podCgroupParent(pod, o.cgroupRoot),
      securityContext: {
        namespaceOptions: namespaceOptions(pod),
        privileged: anyPrivileged,
        ...(psc.runAsUser !== undefined ? { runAsUser: { value: psc.runAsUser } } : {}),
        ...(psc.runAsGroup !== undefined ? { runAsGroup: { value: psc.runAsGroup } } : {}),
        supplementalGroups: [...(psc.supplementalGroups ?? []), ...(psc.fsGroup !== undefined ? [psc.fsGroup] : [])],
      },
      sysctls: Object.fromEntries((psc.sysctls ?? []).map((s) => [s.name, s.value])),
    },
  };
  const dns = dnsConfig(pod, o);
  if (dns) cfg.dnsConfig = dns;
  return cfg;
}

function dnsConfig(pod: Pod, o: SandboxOptions): PodSandboxConfig["dnsConfig"] | undefined {
  const policy = pod.spec.dnsPolicy ?? "ClusterFirst";
  const extra = pod.spec.dnsConfig;
  const ns = pod.metadata.namespace ?? "default";
  const domain = o.clusterDomain ?? "cluster.local";
  let servers: string[] = [];
  let searches: string[] = [];
  let options: string[] = [];
  const clusterFirst = policy === "ClusterFirst" || (policy === "ClusterFirstWithHostNet" && pod.spec.hostNetwork) || (policy === "ClusterFirst" && !pod.spec.hostNetwork);
  if (policy === "None") {
    /* only dnsConfig */
  } else if (clusterFirst && o.clusterDns?.length && !(policy === "ClusterFirst" && pod.spec.hostNetwork)) {
    servers = [...o.clusterDns];
    searches = [`${ns}.svc.${domain}`, `svc.${domain}`, domain];
    options = ["ndots:5"];
  } else if (!extra) {
    return undefined; // the runtime copies the host's resolv.conf
  }
  if (extra) {
    servers = [...servers, ...(extra.nameservers ?? [])];
    searches = [...searches, ...(extra.searches ?? [])];
    for (const op of extra.options ?? []) {
      options = options.filter((x) => x.split(":")[0] !== op.name);
      options.push(op.value !== undefined ? `${op.name}:${op.value}` : op.name);
    }
  }
  return { servers, searches, options };
}

/** A stable hash of a container's spec: a change restarts the container (kubelet does the same). */
export function containerHash(c: Container): string {
  return new Bun.CryptoHasher("sha256").update(JSON.stringify(c)).digest("hex").slice(0, 16);
}

export interface ContainerConfigInput {
  pod: Pod;
  container: Container;
  init: boolean;
  restartCount: number;
  env: { key: string; value: string }[];
  command?: string[];
  args?: string[];
  image: string;
  volumes: Map<string, MountedVolume>;
  /** Kubelet-managed /etc/hosts for the pod (not for hostNetwork pods). */
  etcHosts?: string;
  /** Host file for terminationMessagePath. */
  terminationLog?: string;
  /** The pod's directory on the node (subPath bind mounts go under it; required for subPath). */
  podDir?: string;
  memoryCapacity: number;
  /** Ephemeral containers with a targetContainerName: the CRI id of the running target. */
  targetId?: string;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

function securityContext(pod: Pod, c: Container, targetId?: string): LinuxContainerSecurityContext {
  const psc = pod.spec.securityContext ?? {};
  const sc = c.securityContext ?? {};
  const nsOpts = namespaceOptions(pod);
  // An ephemeral container with a target joins the target's PID namespace (kubelet's
  // NamespaceMode TARGET); with a pod-wide or host PID namespace there is nothing to join.
  if (targetId && nsOpts.pid === "CONTAINER") Object.assign(nsOpts, { pid: "TARGET", targetId });
  const out: LinuxContainerSecurityContext = { namespaceOptions: nsOpts };
  const uid = sc.runAsUser ?? psc.runAsUser;
  const gid = sc.runAsGroup ?? psc.runAsGroup;
  if (uid !== undefined) out.runAsUser = { value: uid };
  if (gid !== undefined) out.runAsGroup = { value: gid };
  if (sc.privileged) out.privileged = true;
  if (sc.readOnlyRootFilesystem) out.readonlyRootfs = true;
  if (sc.allowPrivilegeEscalation === false) out.noNewPrivs = true;
  if (sc.capabilities) out.capabilities = { addCapabilities: sc.capabilities.add ?? [], dropCapabilities: sc.capabilities.drop ?? [] };
  const groups = [...(psc.supplementalGroups ?? []), ...(psc.fsGroup !== undefined ? [psc.fsGroup] : [])];
  if (groups.length) out.supplementalGroups = groups;
  if (!sc.privileged) {
    // kubelet's defaults (securitycontext.ConvertToRuntimeMaskedPaths / ReadonlyPaths)
    out.maskedPaths = ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"];
    out.readonlyPaths = ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];
  }
  return out;
}

/**
 * kubelet's verifyRunAsNonRoot: with runAsNonRoot the effective user must be known and not 0;
 * without runAsUser that is the image's user, and an image that names none runs as root.
 */
export function verifyRunAsNonRoot(pod: Pod, c: Container, image: { uid?: { value: number | string } | null; username?: string } | null): void {
  const psc = pod.spec.securityContext ?? {};
  const sc = c.securityContext ?? {};
  if (!(sc.runAsNonRoot ?? psc.runAsNonRoot)) return;
  const where = `(pod: "${pod.metadata.name}_${pod.metadata.namespace ?? "default"}(${pod.metadata.uid})", container: ${c.name})`;
  const uid = sc.runAsUser ?? psc.runAsUser;
  if (uid !== undefined) {
    if (uid === 0) throw new ConfigError(`container's runAsUser breaks non-root policy ${where}`);
    return;
  }
  if (image?.uid) {
    if (Number(image.uid.value) === 0) throw new ConfigError(`container has runAsNonRoot and image will run as root ${where}`);
    return;
  }
  if (image?.username) throw new ConfigError(`container has runAsNonRoot and image has non-numeric user (${image.username}), cannot verify user is non-root ${where}`);
  throw new ConfigError(`container has runAsNonRoot and image will run as root ${where}`);
}

function mounts(i: ContainerConfigInput): Mount[] {
  const out: Mount[] = [];
  for (const [index, m] of (i.container.volumeMounts ?? []).entries()) {
    const v = i.volumes.get(m.name);
    if (!v) throw new ConfigError(`volume ${JSON.stringify(m.name)} of volumeMount ${m.mountPath} is not defined`);
    let hostPath = v.path;
    if (m.subPath || m.subPathExpr) {
      // Bind-mounted without following symlinks out of the volume (agent/volumes/subpath.ts).
      try {
        const subPath = m.subPathExpr ? expandSubPathExpr(m.subPathExpr, i.env) : m.subPath!;
        if (subPath && !i.podDir) throw new Error("no pod directory to bind it in");
        if (subPath) hostPath = prepareSubPath({ volumePath: v.path, volumeName: m.name, subPath, podDir: i.podDir!, container: i.container.name, index });
      } catch (e) {
        throw new ConfigError(`failed to prepare subPath for volumeMount ${JSON.stringify(m.name)} of container ${JSON.stringify(i.container.name)}: ${(e as Error).message}`);
      }
    }
    out.push({
      containerPath: m.mountPath,
      hostPath,
      readonly: !!m.readOnly || v.readOnly,
      propagation: m.mountPropagation === "Bidirectional" ? "PROPAGATION_BIDIRECTIONAL" : m.mountPropagation === "HostToContainer" ? "PROPAGATION_HOST_TO_CONTAINER" : "PROPAGATION_PRIVATE",
    });
  }
  const has = (p: string) => out.some((m) => m.containerPath === p);
  if (i.etcHosts && !has("/etc/hosts")) out.push({ containerPath: "/etc/hosts", hostPath: i.etcHosts });
  const tmp = i.container.terminationMessagePath;
  if (i.terminationLog && tmp && !has(tmp)) out.push({ containerPath: tmp, hostPath: i.terminationLog });
  return out;
}

export function containerConfig(i: ContainerConfigInput): ContainerConfig {
  const c = i.container;
  const pod = i.pod;
  const cfg: ContainerConfig = {
    metadata: { name: c.name, attempt: i.restartCount },
    image: { image: i.image },
    command: i.command ?? [],
    args: i.args ?? [],
    workingDir: c.workingDir ?? "",
    envs: i.env,
    mounts: mounts(i),
    labels: { ...podLabels(pod), [L.containerName]: c.name, ...(i.init ? { [L.init]: "true" } : {}) },
    annotations: {
      [A.restartCount]: String(i.restartCount),
      [A.hash]: containerHash(c),
      [A.terminationMessagePath]: c.terminationMessagePath ?? "",
      [A.terminationMessagePolicy]: c.terminationMessagePolicy ?? "File",
      [A.gracePeriod]: String(pod.spec.terminationGracePeriodSeconds ?? 30),
      ...(i.terminationLog ? { [A.terminationLogFile]: i.terminationLog } : {}),
    },
    logPath: containerLogRelPath(c.name, i.restartCount),
    stdin: !!c.stdin,
    stdinOnce: !!c.stdinOnce,
    tty: !!c.tty,
    linux: { resources: linuxResources(pod, c, i.memoryCapacity), securityContext: securityContext(pod, c, i.targetId) },
  };
  return cfg;
}

export function etcHostsContent(pod: Pod, podIp: string): string {
  const lines = [
    "# Kubernetes-managed hosts file.",
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "fe00::0\tip6-mcastprefix",
    "fe00::1\tip6-allnodes",
    "fe00::2\tip6-allrouters",
  ];
  if (podIp) {
    const host = hostnameOf(pod);
    const fqdn = pod.spec.subdomain ? `${host}.${pod.spec.subdomain}.${pod.metadata.namespace ?? "default"}.svc.cluster.local\t` : "";
    lines.push(`${podIp}\t${fqdn}${host}`);
  }
  if (pod.spec.hostAliases?.length) {
    lines.push("", "# Entries added by HostAliases.");
    for (const a of pod.spec.hostAliases) lines.push(`${a.ip}\t${(a.hostnames ?? []).join("\t")}`);
  }
  return lines.join("\n") + "\n";
}
