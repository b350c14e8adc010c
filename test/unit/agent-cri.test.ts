// The CRI client against a fake runtime.v1 server (grpc-js) on a unix socket: the embedded
// proto loads, messages round-trip with the upstream field names, errors and deadlines are
// reported clearly, and the agent's own unary gRPC channel (agent/cri/grpc.ts) interoperates with
// grpc-js: large responses, many calls at once, size limits, a server that goes away and returns.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import * as http2 from "node:http2";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import protobuf from "protobufjs";
import protoText from "../../schemas/proto/cri.proto" with { type: "text" };
import { CriClient, CriError, criCodec, criServices, endpointAddress, isNotFound } from "../../agent/cri/client.ts";
import { GrpcError, Status, UnaryChannel } from "../../agent/cri/grpc.ts";

const dir = mkdtempSync(join(tmpdir(), "skiff-cri-unit-"));
const sock = join(dir, "cri.sock");
let server: grpc.Server;
let cri: CriClient;
const seen: Record<string, any> = {};

type Handler = (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => void;

/** grpc-js service definitions for cri.proto, with the agent's codec for the messages. */
function serviceDefinition(service: string): grpc.ServiceDefinition {
  const codec = criCodec();
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, [req, res]] of Object.entries(criServices()[service]!)) {
    def[name] = {
      path: `/${service}/${name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (v: unknown) => codec.encode(req, v),
      requestDeserialize: (b: Buffer) => codec.decode(req, b),
      responseSerialize: (v: unknown) => codec.encode(res, v),
      responseDeserialize: (b: Buffer) => codec.decode(res, b),
    };
  }
  return def;
}

let rtHandlers: Record<string, Handler>;
let imgHandlers: Record<string, Handler>;

async function startServer(): Promise<grpc.Server> {
  const s = new grpc.Server();
  s.addService(serviceDefinition("runtime.v1.RuntimeService"), rtHandlers);
  s.addService(serviceDefinition("runtime.v1.ImageService"), imgHandlers);
  await new Promise<void>((res, rej) => s.bindAsync(endpointAddress(sock), grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  return s;
}

const manyImages = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: `sha256:${i.toString(16).padStart(64, "0")}`, repoTags: [`docker.io/library/img-${i}:latest`], size: i }));

beforeAll(async () => {
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
    // filter.image.image = "many:N" answers N images (a response of many HTTP/2 frames)
    ListImages: (c, cb) => {
      const m = /^many:(\d+)$/.exec(c.request.filter?.image?.image ?? "");
      cb(null, { images: m ? manyImages(Number(m[1])) : [{ id: "sha256:abc", repoTags: ["x"], size: 1 }] });
    },
    RemoveImage: (c, cb) => cb({ code: grpc.status.FAILED_PRECONDITION, details: `image "${c.request.image.image}" is in use — by «pod»` }),
  };
  rtHandlers = rt;
  imgHandlers = { ...img };
  delete imgHandlers.RemoveImage; // UNIMPLEMENTED unless a test adds it
  server = await startServer();
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
    expect(err.code).toBe(Status.NOT_FOUND);
    expect(isNotFound(err)).toBe(true);
    expect(err.message).toBe("CRI PodSandboxStatus: NOT_FOUND: an error occurred when try to find sandbox: not found");
    const unimpl = await cri.removeImage("x").catch((e) => e);
    expect(unimpl.code).toBe(Status.UNIMPLEMENTED);
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

describe("UnaryChannel (agent/cri/grpc.ts) against grpc-js", () => {
  test("a response of many HTTP/2 frames arrives whole", async () => {
    const images = await cri.listImages({ image: "many:20000" });
    expect(images.length).toBe(20000);
    expect(images[19999]).toMatchObject({ id: manyImages(20000)[19999]!.id, repoTags: ["docker.io/library/img-19999:latest"], size: 19999 });
  });

  test("many calls at once share the connection", async () => {
    const res = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? cri.version() : cri.listImages({ image: "many:50" }))));
    expect(res.filter((r) => Array.isArray(r) && r.length === 50).length).toBe(100);
    expect(res.filter((r) => !Array.isArray(r) && (r as { runtimeName: string }).runtimeName === "fake").length).toBe(100);
  });

  test("a response over the size limit is RESOURCE_EXHAUSTED, and the channel goes on", async () => {
    const ch = new UnaryChannel(sock, { maxReceiveBytes: 10_000 });
    const req = criCodec().encode("runtime.v1.ListImagesRequest", { filter: { image: { image: "many:1000" } } });
    const err = await ch.call("/runtime.v1.ImageService/ListImages", req, Date.now() + 5000).catch((e) => e);
    expect(err).toBeInstanceOf(GrpcError);
    expect(err.code).toBe(Status.RESOURCE_EXHAUSTED);
    const ok = await ch.call("/runtime.v1.RuntimeService/Version", criCodec().encode("runtime.v1.VersionRequest", {}), Date.now() + 5000);
    expect(criCodec().decode("runtime.v1.VersionResponse", ok)).toMatchObject({ runtimeName: "fake" });
    ch.close();
  });

  test("grpc-message is percent-decoded UTF-8", async () => {
    imgHandlers.RemoveImage = (c, cb) => cb({ code: grpc.status.FAILED_PRECONDITION, details: `image "${c.request.image.image}" is in use — by «pod»` });
    server.forceShutdown();
    server = await startServer();
    const err = await cri.removeImage("busy").catch((e) => e);
    expect(err.code).toBe(Status.FAILED_PRECONDITION);
    expect(err.details).toBe(`image "busy" is in use — by «pod»`);
  });

  test("a runtime that goes away is UNAVAILABLE; the next call after it returns reconnects", async () => {
    server.forceShutdown();
    const down = await cri.version().catch((e) => e);
    expect(down).toBeInstanceOf(CriError);
    expect(down.unavailable).toBe(true);
    expect(down.message).toContain("cri.sock");
    server = await startServer();
    expect((await cri.version()).runtimeName).toBe("fake");
  });

  test("a deadline beyond setTimeout's 24.8-day limit is waited for, not fired at once", async () => {
    await cri.stopContainer("c-1", 30 * 24 * 3600); // StopContainer answers after 300 ms
    expect(seen.stop.req.timeout).toBe(30 * 24 * 3600);
  });

  test("a call the server took is not sent again when the connection then drops", async () => {
    const sock2 = join(dir, "drop.sock");
    let hits = 0;
    const h2 = http2.createServer();
    h2.on("stream", (stream) => {
      hits++;
      stream.on("data", () => {});
      stream.on("end", () => {
        // GOAWAY naming this stream as processed, then the connection is gone: the client may
        // not know whether the call ran, so it must not send it again.
        stream.session?.goaway(0, stream.id);
        setImmediate(() => stream.session?.destroy());
      });
    });
    await new Promise<void>((res) => h2.listen(sock2, res));
    try {
      for (let i = 0; i < 5; i++) {
        const ch = new UnaryChannel(sock2);
        const before = hits;
        const err = await ch.call("/runtime.v1.RuntimeService/CreateContainer", new Uint8Array(0), Date.now() + 3000).catch((e) => e);
        ch.close();
        expect(err).toBeInstanceOf(GrpcError);
        expect(hits - before).toBe(1);
      }
    } finally {
      h2.close();
    }
  });

  test("a call after close() fails at once", async () => {
    const c = await CriClient.connect(sock, { timeoutMs: 5000 });
    c.close();
    const err = await c.version().catch((e) => e);
    expect(err.code).toBe(Status.CANCELLED);
  });
});
