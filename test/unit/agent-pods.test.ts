// Pure parts of the pod agent: status/phase computation, back-off, env expansion, resources and
// QoS, the atomic writer, hostPath checks, CRI config generation, memory emptyDir sizing, probe
// and hook actions (against a local HTTP server), event aggregation.
import { describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Backoff } from "../../agent/pods/backoff.ts";
import { containerConfig, L, A, sandboxConfig, etcHostsContent, verifyRunAsNonRoot } from "../../agent/pods/cri-config.ts";
import { expand } from "../../agent/pods/env.ts";
import { cpuShares, linuxResources, qosClass, resourceFieldValue } from "../../agent/pods/resources.ts";
import { computePodStatus, type ContainerRecord } from "../../agent/pods/status.ts";
import type { Pod } from "../../agent/pods/types.ts";
import { writeAtomic, validatePath } from "../../agent/volumes/atomic-writer.ts";
import { checkHostPath } from "../../agent/volumes/hostpath.ts";
import { memoryVolumeSize } from "../../agent/volumes/manager.ts";
import { runAction } from "../../agent/probes/handlers.ts";
import { PodEvents } from "../../agent/pods/events.ts";
import type { AgentApi } from "../../agent/api-client.ts";

const pod = (spec: Partial<Pod["spec"]> = {}): Pod => ({
  metadata: { name: "p", namespace: "ns", uid: "u1", labels: { a: "1" } },
  spec: { containers: [{ name: "c", image: "busybox" }], restartPolicy: "Always", ...spec },
});
const rec = (o: Partial<ContainerRecord>): ContainerRecord => ({
  id: "id", name: "c", attempt: 0, sandboxId: "s", state: "running", createdAt: 1000, startedAt: 2000, finishedAt: 0,
  exitCode: 0, reason: "", message: "", image: "docker.io/library/busybox:latest", imageRef: "sha256:abc", ...o,
});
const base = { hostIPs: ["192.0.2.2"], podIPs: ["10.42.0.5"], waiting: new Map(), probes: new Map(), startTime: "2024-01-01T00:00:00Z" };

describe("pod status", () => {
  test("running and ready", () => {
    const s = computePodStatus({ ...base, pod: pod(), records: new Map([["c", [rec({ id: "x" })]]]), probes: new Map([["x", { ready: true, started: true, failed: null, failMessage: "" }]]) });
    expect(s.phase).toBe("Running");
    expect(s.podIP).toBe("10.42.0.5");
    expect(s.conditions!.find((c) => c.type === "Ready")!.status).toBe("True");
    expect(s.containerStatuses![0]!.containerID).toBe("containerd://x");
    expect(s.containerStatuses![0]!.state.running!.startedAt).toBe("1970-01-01T00:00:02Z");
    expect(s.qosClass).toBe("BestEffort");
  });
  test("crash loop: waiting with lastState, phase Running under Always", () => {
    const s = computePodStatus({
      ...base,
      pod: pod(),
      records: new Map([["c", [rec({ state: "exited", exitCode: 1, reason: "Error", attempt: 3, finishedAt: 5000 })]]]),
      waiting: new Map([["c", { reason: "CrashLoopBackOff", message: "back-off 40s" }]]),
    });
    const c = s.containerStatuses![0]!;
    expect(c.state.waiting!.reason).toBe("CrashLoopBackOff");
    expect(c.lastState.terminated!.exitCode).toBe(1);
    expect(c.restartCount).toBe(3);
    expect(s.phase).toBe("Running");
    expect(s.conditions!.find((x) => x.type === "ContainersReady")!.message).toBe("containers with unready status: [c]");
  });
  test("Never: failed and succeeded", () => {
    const failed = computePodStatus({ ...base, pod: pod({ restartPolicy: "Never" }), records: new Map([["c", [rec({ state: "exited", exitCode: 2 })]]]) });
    expect(failed.phase).toBe("Failed");
    const ok = computePodStatus({ ...base, pod: pod({ restartPolicy: "OnFailure" }), records: new Map([["c", [rec({ state: "exited", exitCode: 0 })]]]) });
    expect(ok.phase).toBe("Succeeded");
    expect(ok.conditions!.find((c) => c.type === "Ready")!.reason).toBe("PodCompleted");
  });
  test("init containers gate the app and Initialized", () => {
    const p = pod({ initContainers: [{ name: "i1", image: "b" }, { name: "i2", image: "b" }] });
    const s = computePodStatus({ ...base, pod: p, records: new Map([["i1", [rec({ name: "i1", state: "exited", exitCode: 0 })]], ["i2", [rec({ name: "i2", id: "y" })]]]) });
    expect(s.phase).toBe("Pending");
    expect(s.conditions!.find((c) => c.type === "Initialized")!.message).toBe("containers with incomplete status: [i2]");
    expect(s.containerStatuses![0]!.state.waiting!.reason).toBe("PodInitializing");
    expect(s.initContainerStatuses![0]!.ready).toBe(true);
    const failed = computePodStatus({ ...base, pod: { ...p, spec: { ...p.spec, restartPolicy: "Never" } }, records: new Map([["i1", [rec({ name: "i1", state: "exited", exitCode: 1 })]]]) });
    expect(failed.phase).toBe("Failed");
  });
  test("lastTransitionTime is kept while a condition does not change", () => {
    const p = pod();
    p.status = { conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: "2020-01-01T00:00:00Z" }, { type: "Custom", status: "True" }] };
    const s = computePodStatus({ ...base, pod: p, records: new Map() });
    expect(s.conditions!.find((c) => c.type === "PodScheduled")!.lastTransitionTime).toBe("2020-01-01T00:00:00Z");
    expect(s.conditions!.find((c) => c.type === "Custom")).toBeTruthy();
  });
});

describe("ephemeral containers", () => {
  test("reported in ephemeralContainerStatuses, never ready, and they change neither phase nor readiness", () => {
    const p = pod({ ephemeralContainers: [{ name: "dbg", image: "busybox", targetContainerName: "c" }, { name: "late", image: "busybox" }] });
    const s = computePodStatus({
      ...base,
      pod: p,
      records: new Map([["c", [rec({ id: "x" })]], ["dbg", [rec({ id: "d", name: "dbg", state: "exited", exitCode: 3 })]]]),
      probes: new Map([["x", { ready: true, started: true, failed: null, failMessage: "" }]]),
      waiting: new Map([["late", { reason: "ErrImagePull", message: "no" }]]),
    });
    expect(s.phase).toBe("Running");
    expect(s.conditions!.find((c) => c.type === "Ready")!.status).toBe("True");
    expect(s.containerStatuses!.map((c) => c.name)).toEqual(["c"]);
    expect(s.ephemeralContainerStatuses).toEqual([
      { name: "dbg", state: { terminated: { exitCode: 3, reason: "Error", startedAt: "1970-01-01T00:00:02Z", containerID: "containerd://d" } }, lastState: {}, ready: false, restartCount: 0, image: "docker.io/library/busybox:latest", imageID: "sha256:abc", containerID: "containerd://d" },
      { name: "late", state: { waiting: { reason: "ErrImagePull", message: "no" } }, lastState: {}, ready: false, restartCount: 0, image: "busybox", imageID: "" },
    ]);
  });

  test("with a target they join its PID namespace through CRI's TARGET mode; without, the pod's usual one", () => {
    const p = pod();
    const cfg = (targetId?: string, spec = p) => containerConfig({ pod: spec, container: { name: "dbg", image: "b" }, init: false, restartCount: 0, env: [], image: "b", volumes: new Map(), memoryCapacity: 1 << 30, targetId });
    expect(cfg("abc").linux!.securityContext!.namespaceOptions).toEqual({ network: "POD", pid: "TARGET", ipc: "POD", targetId: "abc" });
    expect(cfg().linux!.securityContext!.namespaceOptions).toEqual({ network: "POD", pid: "CONTAINER", ipc: "POD" });
    // A pod that shares one PID namespace already: nothing to target.
    expect(cfg("abc", pod({ shareProcessNamespace: true })).linux!.securityContext!.namespaceOptions!.pid).toBe("POD");
  });

  test("events name them by spec.ephemeralContainers{name}", async () => {
    const posted: any[] = [];
    const api = { create: async (_path: string, body: any) => posted.push(body), mergePatch: async () => {} } as unknown as AgentApi;
    const ev = new PodEvents(api);
    ev.record(pod(), "Normal", "Started", "Started container dbg", { name: "dbg", init: false, ephemeral: true });
    await Bun.sleep(0);
    expect(posted.map((e) => e.involvedObject?.fieldPath)).toContain("spec.ephemeralContainers{dbg}");
  });
});

describe("back-off", () => {
  test("first retry immediate, then 10 s doubling to 5 min", () => {
    let now = 0;
    const b = new Backoff({}, () => now);
    expect(b.remaining("k", 0)).toBe(0);
    expect(b.next("k")).toBe(10_000);
    expect(b.remaining("k", 0)).toBe(10_000);
    const seq = [b.next("k"), b.next("k"), b.next("k"), b.next("k"), b.next("k"), b.next("k")];
    expect(seq).toEqual([20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
    now = 700_000; // unused for more than twice the maximum: starts over
    expect(b.delay("k")).toBe(0);
  });
});

describe("env", () => {
  test("$(VAR) expansion like Kubernetes", () => {
    const m = new Map([["A", "x"], ["B", "y"]]);
    const f = (n: string) => m.get(n);
    expect(expand("$(A)-$(B)", f)).toBe("x-y");
    expect(expand("$(C)", f)).toBe("$(C)");
    expect(expand("$$(A)", f)).toBe("$(A)");
    expect(expand("a$", f)).toBe("a$");
  });
});

describe("resources", () => {
  test("QoS and CRI resources", () => {
    const g = pod({ containers: [{ name: "c", image: "b", resources: { limits: { cpu: "500m", memory: "64Mi" }, requests: { cpu: "500m", memory: "64Mi" } } }] });
    expect(qosClass(g)).toBe("Guaranteed");
    const r = linuxResources(g, g.spec.containers[0]!, 1 << 30);
    expect(r).toMatchObject({ cpuShares: 512, cpuQuota: 50_000, cpuPeriod: 100_000, memoryLimitInBytes: 64 * 1024 * 1024, oomScoreAdj: -997 });
    const b = pod({ containers: [{ name: "c", image: "b", resources: { requests: { memory: "256Mi" } } }] });
    expect(qosClass(b)).toBe("Burstable");
    expect(linuxResources(b, b.spec.containers[0]!, 1 << 30).oomScoreAdj).toBe(750);
    expect(cpuShares(undefined)).toBe(2);
    expect(resourceFieldValue(g.spec.containers[0], "limits.memory", "1Mi", { cpuMilli: 2000, memory: 1, ephemeralStorage: 1 })).toBe("64");
    expect(resourceFieldValue(pod().spec.containers[0], "limits.cpu", "1m", { cpuMilli: 2000, memory: 1, ephemeralStorage: 1 })).toBe("2000");
  });
});

describe("CRI config", () => {
  test("labels, namespaces, log path, security context", () => {
    const p = pod({ hostNetwork: true, containers: [{ name: "c", image: "b", ports: [{ containerPort: 80, hostPort: 8080 }], securityContext: { runAsUser: 1000, readOnlyRootFilesystem: true, capabilities: { add: ["NET_ADMIN"] } } }] });
    const sb = sandboxConfig(p, { dataDir: "/d", cgroupRoot: "/skiff", attempt: 1 });
    expect(sb.labels![L.podUid]).toBe("u1");
    expect(sb.logDirectory).toBe("/d/agent/pods-logs/ns_p_u1");
    expect(sb.linux!.securityContext!.namespaceOptions!.network).toBe("NODE");
    expect(sb.portMappings).toEqual([{ protocol: "TCP", containerPort: 80, hostPort: 8080, hostIp: "" }]);
    expect(sb.linux!.cgroupParent).toBe("/skiff/besteffort/podu1");
    const cc = containerConfig({ pod: p, container: p.spec.containers[0]!, init: false, restartCount: 2, env: [], image: "docker.io/library/b:latest", volumes: new Map(), memoryCapacity: 1 << 30 });
    expect(cc.logPath).toBe("c/2.log");
    expect(cc.metadata.attempt).toBe(2);
    expect(cc.annotations![A.restartCount]).toBe("2");
    expect(cc.linux!.securityContext).toMatchObject({ runAsUser: { value: 1000 }, readonlyRootfs: true, capabilities: { addCapabilities: ["NET_ADMIN"] } });
    expect(etcHostsContent(pod(), "10.0.0.9")).toContain("10.0.0.9\tp\n");
  });
  test("runAsNonRoot is checked against runAsUser, else the image's user", () => {
    const c = (sc: object) => ({ name: "c", image: "b", securityContext: { runAsNonRoot: true, ...sc } });
    expect(() => verifyRunAsNonRoot(pod(), c({ runAsUser: 0 }), null)).toThrow("runAsUser breaks non-root policy");
    expect(() => verifyRunAsNonRoot(pod(), c({ runAsUser: 5 }), null)).not.toThrow();
    expect(() => verifyRunAsNonRoot(pod(), c({}), { uid: { value: 1000 } })).not.toThrow();
    expect(() => verifyRunAsNonRoot(pod(), c({}), { uid: { value: "0" } })).toThrow("image will run as root");
    expect(() => verifyRunAsNonRoot(pod(), c({}), { uid: null, username: "app" })).toThrow("non-numeric user (app)");
    expect(() => verifyRunAsNonRoot(pod(), c({}), { uid: null, username: "" })).toThrow("image will run as root");
    expect(() => verifyRunAsNonRoot(pod(), { name: "c", image: "b" }, null)).not.toThrow();
  });
});

describe("volumes", () => {
  test("atomic writer: ..data swap, updates in place, stale keys removed", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-aw-"));
    try {
      expect(writeAtomic(dir, new Map([["a", { data: "1", mode: 0o644 }], ["sub/b", { data: "2", mode: 0o400 }]]))).toBe(true);
      const v1 = readlinkSync(join(dir, "..data"));
      expect(readFileSync(join(dir, "a"), "utf8")).toBe("1");
      expect(readlinkSync(join(dir, "a"))).toBe("..data/a");
      expect(lstatSync(join(dir, "sub/b")).mode & 0o777).toBe(0o400);
      expect(writeAtomic(dir, new Map([["a", { data: "1", mode: 0o644 }], ["sub/b", { data: "2", mode: 0o400 }]]))).toBe(false);
      expect(writeAtomic(dir, new Map([["a", { data: "3", mode: 0o644 }]]))).toBe(true);
      expect(readlinkSync(join(dir, "..data"))).not.toBe(v1);
      expect(existsSync(join(dir, v1))).toBe(false);
      expect(existsSync(join(dir, "sub"))).toBe(false);
      expect(readdirSync(dir).sort()).toEqual([readlinkSync(join(dir, "..data")), "..data", "a"].sort());
      expect(() => validatePath("../x")).toThrow();
      expect(() => validatePath("..x")).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test("hostPath types", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-hp-"));
    try {
      checkHostPath(join(dir, "new/dir"), "DirectoryOrCreate");
      expect(lstatSync(join(dir, "new/dir")).isDirectory()).toBe(true);
      expect(() => checkHostPath(join(dir, "f/file"), "FileOrCreate")).toThrow("parent directory");
      checkHostPath(join(dir, "new/dir/file"), "FileOrCreate");
      expect(lstatSync(join(dir, "new/dir/file")).isFile()).toBe(true);
      expect(() => checkHostPath(join(dir, "new"), "FileOrCreate")).toThrow("is not a file");
      expect(() => checkHostPath(join(dir, "nope"), "Directory")).toThrow("is not a directory");
      expect(() => checkHostPath(join(dir, "new/dir"), "File")).toThrow("is not a file");
      writeFileSync(join(dir, "x"), "");
      expect(() => checkHostPath(join(dir, "x"), "Socket")).toThrow("is not a socket file");
      expect(() => checkHostPath("/dev/null", "CharDevice")).not.toThrow();
      expect(() => checkHostPath("/dev/null", "BlockDevice")).toThrow("is not a block device");
      expect(() => checkHostPath(dir, "Bogus")).toThrow("not supported");
      checkHostPath(join(dir, "whatever"), "");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("memory emptyDir size", () => {
  test("the pod's memory limit, lowered to sizeLimit; the node's memory without a limit", () => {
    const node = 8 * 2 ** 30;
    expect(memoryVolumeSize(pod(), undefined, node)).toBe(node);
    expect(memoryVolumeSize(pod(), "16Mi", node)).toBe(16 << 20);
    const limited = pod({ containers: [{ name: "a", image: "b", resources: { limits: { memory: "64Mi" } } }, { name: "c", image: "b", resources: { limits: { memory: "32Mi" } } }] });
    expect(memoryVolumeSize(limited, undefined, node)).toBe(96 << 20);
    expect(memoryVolumeSize(limited, "1Gi", node)).toBe(96 << 20);
    expect(memoryVolumeSize(limited, "8Mi", node)).toBe(8 << 20);
    // kubelet sets a pod limit only when every container has one; never above the node's memory.
    const partly = pod({ containers: [{ name: "a", image: "b", resources: { limits: { memory: "64Mi" } } }, { name: "c", image: "b" }] });
    expect(memoryVolumeSize(partly, undefined, node)).toBe(node);
    const huge = pod({ containers: [{ name: "a", image: "b", resources: { limits: { memory: "64Gi" } } }] });
    expect(memoryVolumeSize(huge, undefined, node)).toBe(node);
  });
});

describe("probe and hook actions", () => {
  test("httpGet: probes need 2xx/3xx and follow same-host redirects; hooks only need an answer", async () => {
    const srv = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const path = new URL(req.url).pathname;
        if (path === "/hop") return Response.redirect("/bad", 302);
        if (path === "/away") return new Response(null, { status: 302, headers: { location: "http://192.0.2.1/" } });
        if (path === "/loop") return Response.redirect("/loop", 302);
        return new Response(path === "/bad" ? "nope" : "fine", { status: path === "/bad" ? 500 : 200 });
      },
    });
    try {
      const t = { cri: {} as never, containerId: "x", container: { name: "c", image: "b", ports: [{ name: "web", containerPort: srv.port! }] }, podIp: "127.0.0.1" };
      const get = (path: string, hook = false) => runAction({ httpGet: { port: "web", path } }, t, 2, { hook });
      expect(await get("/ok")).toEqual({ ok: true, output: "fine" });
      expect(await get("/bad")).toEqual({ ok: false, output: "HTTP probe failed with statuscode: 500" });
      expect((await get("/hop")).ok).toBe(false); // followed to /bad
      expect((await get("/away")).ok).toBe(true); // another host: not followed, a success
      expect(await get("/loop")).toEqual({ ok: false, output: "stopped after 10 redirects" });
      expect((await get("/bad", true)).ok).toBe(true);
      const closed = await runAction({ tcpSocket: { port: 1 } }, t, 1);
      expect(closed).toEqual({ ok: false, output: "dial tcp 127.0.0.1:1: connect: connection refused" });
      expect((await runAction({ tcpSocket: { port: "web" } }, t, 1)).ok).toBe(true);
    } finally {
      srv.stop(true);
    }
  });
});

describe("pod events", () => {
  test("kubelet-style Events: fieldPath per container, repeats aggregated instead of re-created", async () => {
    const calls: { verb: string; path: string; body: any }[] = [];
    const api = {
      create: async (path: string, body: any) => calls.push({ verb: "POST", path, body }),
      mergePatch: async (path: string, body: any) => calls.push({ verb: "PATCH", path, body }),
    } as unknown as AgentApi;
    const ev = new PodEvents(api);
    const p = pod({ nodeName: "n1", initContainers: [{ name: "i", image: "b" }] });
    ev.record(p, "Warning", "BackOff", "Back-off restarting failed container c", { name: "c", init: false });
    ev.record(p, "Warning", "BackOff", "Back-off restarting failed container c", { name: "c", init: false });
    ev.record(p, "Warning", "Failed", "Error: x", { name: "i", init: true });
    ev.record(p, "Warning", "FailedMount", "MountVolume.SetUp failed");
    await Bun.sleep(0);
    expect(calls.map((c) => c.verb)).toEqual(["POST", "POST", "POST"]);
    expect(calls[0]!.path).toBe("/api/v1/namespaces/ns/events");
    expect(calls[0]!.body).toMatchObject({
      involvedObject: { kind: "Pod", name: "p", namespace: "ns", uid: "u1", fieldPath: "spec.containers{c}" },
      reason: "BackOff",
      type: "Warning",
      count: 1,
      source: { component: "kubelet", host: "n1" },
    });
    expect(calls[1]!.body.involvedObject.fieldPath).toBe("spec.initContainers{i}");
    expect(calls[2]!.body.involvedObject.fieldPath).toBeUndefined();
  });
});
