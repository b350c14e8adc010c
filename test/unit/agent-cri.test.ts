// The CRI client against a fake runtime.v1 server (grpc-js) on a unix socket: the embedded
// proto loads, messages round-trip with the upstream field names, errors and deadlines are
// reported clearly.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import protobuf from "protobufjs";
import protoText from "../../schemas/proto/cri.proto" with { type: "text" };
import { CriClient, CriError, criPackage, endpointAddress, isNotFound } from "../../agent/cri/client.ts";

const dir = mkdtempSync(join(tmpdir(), "skiff-cri-unit-"));
const sock = join(dir, "cri.sock");
let server: grpc.Server;
let cri: CriClient;
const seen: Record<string, any> = {};

type Handler = (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => void;

beforeAll(async () => {
  const pkg = criPackage() as any;
  server = new grpc.Server();
  const rt: Record<string, Handler> = {
    Version: (c, cb) => cb(null, { version: "0.1.0", runtimeName: "fake", runtimeVersion: "9.9", runtimeApiVersion: "v1" }),
    RunPodSandbox: (c, cb) => {
      seen.run = c.request;
      cb(null, { podSandboxId: "sb-1" });
    },
    PodSandboxStatus: (c, cb) =>
      c.request.podSandboxId === "sb-1"
        ? cb(null, {
            status: { id: "sb-1", state: "SANDBOX_READY", createdAt: 1_700_000_000_000_000_000, network: { ip: "10.42.0.5" }, labels: { a: "b" } },
          })
        : cb({ code: grpc.status.NOT_FOUND, details: `an error occurred when try to find sandbox: not found` }),
    CreateContainer: (c, cb) => {
      seen.create = c.request;
      cb(null, { containerId: "c-1" });
    },
    ExecSync: (c, cb) => {
      seen.exec = c.request;
      cb(null, { stdout: Buffer.from("hi\n"), stderr: Buffer.alloc(0), exitCode: 0 });
    },
    ListContainers: (c, cb) => {
      seen.list = c.request;
      cb(null, { containers: [{ id: "c-1", podSandboxId: "sb-1", state: "CONTAINER_RUNNING", metadata: { name: "main", attempt: 2 } }] });
    },
    StopContainer: (c, cb) => {
      seen.stop = { req: c.request, deadline: c.getDeadline() };
      setTimeout(() => cb(null, {}), 300);
    },
    Status: (c, cb) =>
      cb(null, { status: { conditions: [{ type: "RuntimeReady", status: true }, { type: "NetworkReady", status: false, reason: "NetworkPluginNotReady" }] } }),
  };
  const img: Record<string, Handler> = {
    ImageStatus: (c, cb) =>
      cb(null, c.request.image.image === "docker.io/library/busybox:latest" ? { image: { id: "sha256:abc", repoTags: ["docker.io/library/busybox:latest"], size: 1234 } } : {}),
    ListImages: (c, cb) => cb(null, { images: [{ id: "sha256:abc", repoTags: ["x"], size: 1 }] }),
  };
  server.addService(pkg.runtime.v1.RuntimeService.service, rt);
  server.addService(pkg.runtime.v1.ImageService.service, img);
  await new Promise<void>((res, rej) => server.bindAsync(endpointAddress(sock), grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  cri = await CriClient.connect(sock, { timeoutMs: 5000 });
});

afterAll(async () => {
  cri?.close();
  server?.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe("cri.proto", () => {
  test("declares the upstream services and field numbers used by the agent", () => {
    const root = protobuf.parse(protoText, { keepCase: true }).root;
    const rt = root.lookupService("runtime.v1.RuntimeService");
    expect(Object.keys(rt.methods).sort()).toEqual(
      [
        "Attach", "ContainerStats", "ContainerStatus", "CreateContainer", "Exec", "ExecSync", "ListContainerStats",
        "ListContainers", "ListPodSandbox", "PodSandboxStatus", "PortForward", "RemoveContainer", "RemovePodSandbox",
        "ReopenContainerLog", "RunPodSandbox", "StartContainer", "Status", "StopContainer", "StopPodSandbox",
        "UpdateContainerResources", "Version",
      ].sort(),
    );
    const im = root.lookupService("runtime.v1.ImageService");
    expect(Object.keys(im.methods).sort()).toEqual(["ImageFsInfo", "ImageStatus", "ListImages", "PullImage", "RemoveImage"]);
    // spot checks against upstream k8s.io/cri-api numbering
    const f = (t: string, n: string) => root.lookupType(`runtime.v1.${t}`).fields[n]!.id;
    expect(f("PodSandboxConfig", "linux")).toBe(8);
    expect(f("ContainerConfig", "linux")).toBe(15);
    expect(f("ContainerConfig", "log_path")).toBe(11);
    expect(f("LinuxContainerSecurityContext", "run_as_group")).toBe(12);
    expect(f("LinuxSandboxSecurityContext", "run_as_group")).toBe(8);
    expect(f("ContainerStatus", "log_path")).toBe(15);
    expect(f("LinuxContainerResources", "memory_swap_limit_in_bytes")).toBe(10);
  });
});

describe("CriClient", () => {
  test("version", async () => {
    expect(await cri.version()).toEqual({ version: "0.1.0", runtimeName: "fake", runtimeVersion: "9.9", runtimeApiVersion: "v1" });
  });

  test("requests are encoded with nested messages, maps and enums", async () => {
    const config = {
      metadata: { name: "web", uid: "u1", namespace: "default", attempt: 1 },
      logDirectory: "/var/log/pods/x",
      portMappings: [{ protocol: "UDP" as const, containerPort: 53, hostPort: 5353 }],
      labels: { app: "web" },
      linux: { cgroupParent: "/skiff/pod-u1", securityContext: { namespaceOptions: { network: "NODE" as const } } },
    };
    expect(await cri.runPodSandbox(config)).toBe("sb-1");
    expect(seen.run.config.metadata).toEqual({ name: "web", uid: "u1", namespace: "default", attempt: 1 });
    expect(seen.run.config.portMappings[0]).toMatchObject({ protocol: "UDP", containerPort: 53, hostPort: 5353 });
    expect(seen.run.config.labels).toEqual({ app: "web" });
    expect(seen.run.config.linux.securityContext.namespaceOptions.network).toBe("NODE");

    const id = await cri.createContainer("sb-1", {
      metadata: { name: "main" },
      image: { image: "docker.io/library/busybox:latest" },
      command: ["sh"],
      envs: [{ key: "A", value: "1" }],
      mounts: [{ containerPath: "/data", hostPath: "/tmp/d", readonly: true }],
      linux: { resources: { memoryLimitInBytes: 64 * 1024 * 1024 }, securityContext: { runAsUser: { value: 1000 }, readonlyRootfs: true } },
    }, config);
    expect(id).toBe("c-1");
    expect(seen.create.config.linux.resources.memoryLimitInBytes).toBe(67108864);
    expect(seen.create.config.linux.securityContext.runAsUser.value).toBe(1000);
    expect(seen.create.config.mounts[0]).toMatchObject({ containerPath: "/data", readonly: true, propagation: "PROPAGATION_PRIVATE" });
    expect(seen.create.sandboxConfig.metadata.name).toBe("web");
  });

  test("responses are decoded with defaults", async () => {
    const st = await cri.podSandboxStatus("sb-1");
    expect(st.status!.state).toBe("SANDBOX_READY");
    expect(st.status!.network!.ip).toBe("10.42.0.5");
    expect(st.status!.createdAt).toBeGreaterThan(1.6e18);
    expect(st.status!.annotations).toEqual({});
    expect(st.status!.linux).toBeNull();
    const list = await cri.listContainers({ podSandboxId: "sb-1", state: { state: "CONTAINER_RUNNING" } });
    expect(seen.list.filter.state.state).toBe("CONTAINER_RUNNING");
    expect(list[0]!.metadata).toEqual({ name: "main", attempt: 2 });
    const ex = await cri.execSync("c-1", ["echo", "hi"], 5);
    expect(ex.stdout.toString()).toBe("hi\n");
    expect(seen.exec).toMatchObject({ containerId: "c-1", cmd: ["echo", "hi"], timeout: 5 });
    const conds = await cri.conditions();
    expect(conds.NetworkReady).toMatchObject({ status: false, reason: "NetworkPluginNotReady" });
  });

  test("images", async () => {
    expect((await cri.imageStatus("docker.io/library/busybox:latest"))!.size).toBe(1234);
    expect(await cri.imageStatus("docker.io/library/nope:1")).toBeNull();
    expect((await cri.listImages()).length).toBe(1);
  });

  test("errors name the method and status", async () => {
    const err = await cri.podSandboxStatus("nope").catch((e) => e);
    expect(err).toBeInstanceOf(CriError);
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(isNotFound(err)).toBe(true);
    expect(err.message).toBe("CRI PodSandboxStatus: NOT_FOUND: an error occurred when try to find sandbox: not found");
    const unimpl = await cri.removeImage("x").catch((e) => e);
    expect(unimpl.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(unimpl.message).toStartWith("CRI RemoveImage: UNIMPLEMENTED");
  });

  test("deadlines: stopContainer extends by the grace period; short deadlines fail clearly", async () => {
    const t = Date.now();
    await cri.stopContainer("c-1", 30);
    expect(seen.stop.req.timeout).toBe(30);
    expect(Number(new Date(seen.stop.deadline)) - t).toBeGreaterThan(30_000);
    const err = await cri.stopContainer("c-1", 0, { timeoutMs: 50 }).catch((e) => e);
    expect(err.deadlineExceeded).toBe(true);
    expect(err.message).toStartWith("CRI StopContainer: DEADLINE_EXCEEDED");
  });

  test("connect to a missing socket fails with the endpoint in the message", async () => {
    const err = await CriClient.connect(join(dir, "missing.sock"), { connectTimeoutMs: 200 }).catch((e) => e);
    expect(String(err)).toContain("missing.sock");
    expect(endpointAddress("unix:/a")).toBe("unix:///a");
    expect(endpointAddress("/a")).toBe("unix:///a");
  });
});
