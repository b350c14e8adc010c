// The agent's runtime foundation against real containerd: the supervised containerd starts in
// a temp data dir, the busybox and pause images are imported without a registry, a pod sandbox
// gets an IP from CNI (bridge + host-local + portmap + loopback), a busybox container runs,
// ExecSync works, its CRI log file has its output, and everything is removed again: no
// processes, mounts or bridge are left on the host.
//
// Skipped (with the reason printed) only when not root or the Debian packages cannot be
// installed (scripts/setup-node.sh installs them in CI).
import { removeDataDir } from "../harness/wait";
import { containerdSkipReason } from "../harness/containerd.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRuntime, type Runtime, type RuntimeEvent } from "../../agent/containerd/runtime.ts";
import { ContainerdSupervisor, killShims, mountsUnder } from "../../agent/containerd/supervisor.ts";
import { type CriClient, type ContainerConfig, type PodSandboxConfig } from "../../agent/cri/client.ts";
import { ensurePauseImage, importAirgapImages, importImageArchive, listImages, removeImage } from "../../agent/images/images.ts";
import { PAUSE_IMAGE } from "../../agent/images/pause.ts";
import { BUSYBOX_IMAGE, busyboxDockerArchive, busyboxImage } from "../images/builder.ts";

setDefaultTimeout(120_000);

const BRIDGE = "skiffe2e0";
const POD_CIDR = "10.88.0.0/16";

const reason = containerdSkipReason(import.meta.path);

function bridgeExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

describe.skipIf(reason !== null)("agent runtime on real containerd", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-cri-"));
  const cgroupParent = `/skiff-e2e-${process.pid}`;
  const logDir = join(dataDir, "pods", "default_web_uid-1");
  const bridgeBefore = bridgeExists(BRIDGE);
  const events: RuntimeEvent[] = [];
  let rt: Runtime;
  let sup: ContainerdSupervisor;
  let cri: CriClient;
  let sandboxId = "";
  let containerId = "";
  let podIp = "";
  const timings: Record<string, number> = {};
  const ctrOpts = () => ({ address: sup.socket, snapshotter: sup.preflight!.snapshotter });

  const sandboxConfig: PodSandboxConfig = {
    metadata: { name: "web", uid: "uid-1", namespace: "default", attempt: 0 },
    hostname: "web",
    logDirectory: logDir,
    labels: { "io.kubernetes.pod.name": "web", "skiff.test": "cri-e2e" },
    annotations: { note: "e2e" },
    portMappings: [{ protocol: "TCP", containerPort: 8080, hostPort: 0 }],
    linux: {
      cgroupParent,
      securityContext: { namespaceOptions: { network: "POD", pid: "CONTAINER", ipc: "POD" } },
    },
  };

  beforeAll(async () => {
    // air-gap images are imported at start; a broken tar is reported, not fatal
    const imagesDir = join(dataDir, "agent", "images");
    mkdirSync(imagesDir, { recursive: true });
    spawnSync("cp", [busyboxImage(), join(imagesDir, "busybox.tar")]);
    await Bun.write(join(imagesDir, "broken.tar"), "not a tar");
    const t0 = performance.now();
    rt = await startRuntime({ dataDir, bridge: BRIDGE, onEvent: (e) => events.push(e) });
    timings.runtimeStart = performance.now() - t0;
    sup = rt.supervisor!;
    cri = rt.cri;
  });

  afterAll(async () => {
    try {
      if (cri && sandboxId) {
        await cri.stopPodSandbox(sandboxId).catch(() => {});
        await cri.removePodSandbox(sandboxId).catch(() => {});
      }
      cri?.close();
      await sup?.cleanup();
    } finally {
      if (!bridgeBefore && bridgeExists(BRIDGE)) spawnSync("ip", ["link", "del", BRIDGE]);
      for (const h of ["cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio", "systemd", "unified", ""]) {
        const d = join("/sys/fs/cgroup", h, cgroupParent);
        if (existsSync(d)) try { rmdirSync(d); } catch {}
      }
      removeDataDir(dataDir);
      console.log("timings (ms):", Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])));
    }
  });

  test("containerd answers CRI v1 with the generated config", async () => {
    const v = await cri.version();
    expect(v.runtimeName).toBe("containerd");
    expect(v.runtimeApiVersion).toBe("v1");
    const cfg = readFileSync(sup.paths.config, "utf8");
    expect(cfg).toContain(`sandbox_image = "${PAUSE_IMAGE}"`);
    expect(cfg).toContain(`restrict_oom_score_adj = ${sup.preflight!.restrictOomScoreAdj}`);
    expect(events.some((e) => e.type === "ready")).toBe(true);
    const conds = await cri.conditions();
    expect(conds.RuntimeReady?.status).toBe(true);
    // what an external containerd would be asked for its sandbox image
    expect(JSON.parse((await cri.status(true)).info.config!).sandboxImage).toBe(PAUSE_IMAGE);
    expect(rt.sandboxImage).toBe(PAUSE_IMAGE);
    const ready = events.find((e) => e.type === "ready");
    if (ready?.type === "ready") timings.containerdReady = ready.ms;
  });

  test("images import without a registry under CRI-normalised names", async () => {
    const pauseEv = events.find((e) => e.type === "pause");
    expect(pauseEv).toMatchObject({ type: "pause", image: PAUSE_IMAGE });
    expect((await cri.imageStatus(PAUSE_IMAGE))!.repoTags).toContain(PAUSE_IMAGE);
    // a second call is a no-op
    let t = performance.now();
    await ensurePauseImage(cri, { ...ctrOpts(), workDir: sup.paths.containerdDir });
    timings.pauseCheck = performance.now() - t;

    const airgap = events.find((e) => e.type === "airgap");
    if (airgap?.type !== "airgap") throw new Error("no airgap event");
    expect(airgap.result.imported.map((i) => i.images).flat()).toEqual([BUSYBOX_IMAGE]);
    expect(airgap.result.errors.length).toBe(1);
    expect(airgap.result.errors[0]!.file).toEndWith("broken.tar");
    expect(airgap.result.errors[0]!.error).toContain("ctr images import");
    t = performance.now();
    const again = await importAirgapImages(sup.paths.imagesDir, cri, ctrOpts());
    timings.airgapRecheck = performance.now() - t;
    expect(again.skipped.length).toBe(1);

    // a name given without registry is normalised: busybox:1.0 → docker.io/library/busybox:1.0
    // (different content: CRI's RemoveImage removes every name of the same image ID)
    const other = busyboxImage({ name: "busybox:1.0", extraFiles: { "/etc/version": "1.0\n" } });
    t = performance.now();
    const imgs = await importImageArchive(other, ctrOpts());
    timings.busyboxImport = performance.now() - t;
    expect(imgs.map((i) => i.name)).toEqual(["docker.io/library/busybox:1.0"]);
    const list = await listImages(cri);
    const names = list.flatMap((i) => i.names);
    expect(names).toContain(BUSYBOX_IMAGE);
    expect(names).toContain("docker.io/library/busybox:1.0");
    expect(await removeImage(cri, "busybox:1.0")).toBe(true);
    expect(await removeImage(cri, "busybox:1.0")).toBe(false);
    expect(await cri.imageStatus(BUSYBOX_IMAGE)).not.toBeNull();

    // docker-archive (`docker save` format) with a short name
    const docker = await importImageArchive(busyboxDockerArchive("busybox:docker"), ctrOpts());
    expect(docker.map((i) => i.name)).toEqual(["docker.io/library/busybox:docker"]);
    expect(await cri.imageStatus("docker.io/library/busybox:docker")).not.toBeNull();
    expect(await removeImage(cri, "busybox:docker")).toBe(true);
    // a bad file names the file and ctr's complaint
    const err = await importImageArchive(join(dataDir, "nope.tar"), ctrOpts()).catch((e) => e);
    expect(String(err)).toContain("nope.tar");
  });

  test("a pod sandbox gets an IP from CNI", async () => {
    expect((await cri.conditions()).NetworkReady?.status).toBe(false);
    let t = performance.now();
    await rt.setPodCidr(POD_CIDR); // writes the conflist, waits for NetworkReady
    timings.cniReady = performance.now() - t;
    mkdirSync(logDir, { recursive: true });
    t = performance.now();
    sandboxId = await cri.runPodSandbox(sandboxConfig);
    timings.sandboxStart = performance.now() - t;
    const st = await cri.podSandboxStatus(sandboxId);
    expect(st.status?.state).toBe("SANDBOX_READY");
    podIp = st.status?.network?.ip ?? "";
    expect(podIp).toMatch(/^10\.88\.\d+\.\d+$/);
    expect(bridgeExists(BRIDGE)).toBe(true);
    const list = await cri.listPodSandbox({ labelSelector: { "skiff.test": "cri-e2e" } });
    expect(list.map((s) => s.id)).toEqual([sandboxId]);
    expect(list[0]!.metadata?.name).toBe("web");
  });

  test("a busybox container runs, execs, logs and serves HTTP on the pod IP", async () => {
    const config: ContainerConfig = {
      metadata: { name: "main", attempt: 0 },
      image: { image: BUSYBOX_IMAGE },
      command: ["sh", "-c"],
      args: ["echo started; mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 8080 -h /www"],
      envs: [{ key: "GREETING", value: "hi" }],
      logPath: "main/0.log",
      labels: { "skiff.test": "cri-e2e" },
      linux: { resources: { cpuShares: 256, memoryLimitInBytes: 64 * 1024 * 1024 } },
    };
    let t = performance.now();
    containerId = await cri.createContainer(sandboxId, config, sandboxConfig);
    timings.containerCreate = performance.now() - t;
    t = performance.now();
    await cri.startContainer(containerId);
    timings.containerStart = performance.now() - t;
    const st = await cri.containerStatus(containerId);
    expect(st.status?.state).toBe("CONTAINER_RUNNING");
    expect(st.status?.logPath).toBe(join(logDir, "main/0.log"));

    t = performance.now();
    const ex = await cri.execSync(containerId, ["echo", "hi"], 10);
    timings.execSync = performance.now() - t;
    expect(ex.exitCode).toBe(0);
    expect(ex.stdout.toString().trim()).toBe("hi");
    const ex2 = await cri.execSync(containerId, ["sh", "-c", "echo $GREETING >&2; exit 3"], 10);
    expect(ex2.exitCode).toBe(3);
    expect(ex2.stderr.toString().trim()).toBe("hi");

    // the pod IP on the local bridge answers
    let body = "";
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      try {
        body = await (await fetch(`http://${podIp}:8080/`, { signal: AbortSignal.timeout(1000) })).text();
        break;
      } catch {
        await Bun.sleep(50);
      }
    }
    expect(body.trim()).toBe("hello-from-pod");

    // CRI log format: "<RFC3339Nano> stdout F started"
    const log = readFileSync(join(logDir, "main/0.log"), "utf8");
    expect(log).toMatch(/^\S+Z stdout F started$/m);

    const stats = await cri.containerStats(containerId);
    expect(stats?.attributes?.id).toBe(containerId);
    expect(stats?.memory?.workingSetBytes?.value ?? 0).toBeGreaterThan(0);
    const listed = await cri.listContainers({ podSandboxId: sandboxId });
    expect(listed.map((c) => c.id)).toEqual([containerId]);
    expect(await cri.exec({ containerId, cmd: ["sh"], stdout: true })).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/exec\//);
  });

  test("a missing image fails fast with a clear error", async () => {
    const bad: ContainerConfig = { metadata: { name: "bad" }, image: { image: "docker.io/library/nope:0" }, logPath: "bad/0.log" };
    const err = await cri.createContainer(sandboxId, bad, sandboxConfig).catch((e) => e);
    expect(String(err)).toMatch(/CRI CreateContainer: NOT_FOUND|not found/i);
  });

  test("stop and remove leave nothing running", async () => {
    const t = performance.now();
    await cri.stopContainer(containerId, 5);
    timings.containerStop = performance.now() - t;
    const st = await cri.containerStatus(containerId);
    expect(st.status?.state).toBe("CONTAINER_EXITED");
    await cri.removeContainer(containerId);
    await cri.stopPodSandbox(sandboxId);
    await cri.removePodSandbox(sandboxId);
    const removed = sandboxId;
    sandboxId = "";
    expect((await cri.listPodSandbox()).map((s) => s.id)).not.toContain(removed);
    expect(await cri.listContainers()).toEqual([]);
  });

  test("containerd restarts when it dies, and stops cleanly", async () => {
    const pid = sup.pid!;
    process.kill(pid, "SIGKILL");
    const end = Date.now() + 15_000;
    while (!(sup.pid && sup.pid !== pid && events.filter((e) => e.type === "ready").length >= 2)) {
      if (Date.now() > end) throw new Error(`containerd was not restarted: ${JSON.stringify(events)}`);
      await Bun.sleep(50);
    }
    expect((await cri.version()).runtimeName).toBe("containerd");
    // images survive the restart
    expect(await cri.imageStatus(BUSYBOX_IMAGE)).not.toBeNull();
    cri.close();
    const socket = sup.socket;
    const dir = sup.paths.containerdDir;
    const lastPid = sup.pid!;
    await sup.cleanup();
    expect(() => process.kill(lastPid, 0)).toThrow();
    expect(await killShims(socket)).toEqual([]);
    expect(mountsUnder(dir)).toEqual([]);
    const mine = readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return readFileSync(`/proc/${d}/cmdline`, "utf8").includes(dataDir);
        } catch {
          return false;
        }
      });
    expect(mine).toEqual([]);
  });
});
