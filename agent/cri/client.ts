// CRI client: runtime.v1 RuntimeService and ImageService over gRPC on a unix socket.
//
//   const cri = await CriClient.connect("/var/lib/skiff/agent/containerd/containerd.sock");
//   const { runtimeVersion } = await cri.version();
//   const id = await cri.runPodSandbox(config);
//
// The messages and services come from schemas/proto/cri.proto: descriptor.ts turns it into a
// descriptor at bundle time (a Bun macro, so the `bun build --compile` binary carries the result,
// not protobufjs), and codec.ts encodes and decodes with proto-loader's object conventions.
// Every call has a deadline (kubelet's 2-minute runtime request timeout by default) and fails
// with a CriError that names the method and the gRPC status.

import * as grpc from "@grpc/grpc-js";
import { CriCodec } from "./codec.ts";
import { criDescriptor } from "./descriptor.ts" with { type: "macro" };
import type * as T from "./types.ts";

export * from "./types.ts";

/** Inlined at bundle time (one literal; each macro call would inline another copy). */
const DESCRIPTOR = criDescriptor();

let packageCache: grpc.GrpcObject | null = null;
let codecCache: CriCodec | null = null;

export function criCodec(): CriCodec {
  return (codecCache ??= new CriCodec(DESCRIPTOR));
}

/** The gRPC package of the CRI services (clients and server definitions), built once. */
export function criPackage(): grpc.GrpcObject {
  if (!packageCache) {
    const codec = criCodec();
    const def: Parameters<typeof grpc.loadPackageDefinition>[0] = {};
    for (const [service, methods] of Object.entries(DESCRIPTOR.services)) {
      const svc: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
      for (const [name, [req, res]] of Object.entries(methods)) {
        svc[name] = {
          path: `/${service}/${name}`,
          requestStream: false,
          responseStream: false,
          requestSerialize: (v: unknown) => codec.encode(req, v),
          requestDeserialize: (b: Buffer) => codec.decode(req, b),
          responseSerialize: (v: unknown) => codec.encode(res, v),
          responseDeserialize: (b: Buffer) => codec.decode(res, b),
          // proto-loader's camelCase alias (cri.version(...) as well as cri.Version(...))
          originalName: name[0]!.toLowerCase() + name.slice(1),
        };
      }
      def[service] = svc;
    }
    packageCache = grpc.loadPackageDefinition(def);
  }
  return packageCache;
}

/** gRPC status code names, for messages. */
const STATUS_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(grpc.status)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v as number, k]),
);

export class CriError extends Error {
  override name = "CriError";
  constructor(
    readonly method: string,
    /** gRPC status code (grpc.status). */
    readonly code: number,
    /** The runtime's own message. */
    readonly details: string,
  ) {
    super(`CRI ${method}: ${STATUS_NAMES[code] ?? code}: ${details}`);
  }
  get notFound(): boolean {
    return this.code === grpc.status.NOT_FOUND;
  }
  get unavailable(): boolean {
    return this.code === grpc.status.UNAVAILABLE;
  }
  get deadlineExceeded(): boolean {
    return this.code === grpc.status.DEADLINE_EXCEEDED;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof CriError && err.notFound;
}

export interface CallOptions {
  /** Deadline for this call in ms (default: the client's default timeout). */
  timeoutMs?: number;
}

export interface ConnectOptions {
  /** Default per-call deadline in ms (default 120 000, like kubelet). */
  timeoutMs?: number;
  /** How long connect() waits for the socket to accept (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** PullImage deadline in ms (default 600 000). */
  pullTimeoutMs?: number;
}

type Callback = (err: grpc.ServiceError | null, res: unknown) => void;
type RawClient = grpc.Client & Record<string, (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: Callback) => void>;

/** Accepts "unix:///path", "unix:/path" or a plain "/path". */
export function endpointAddress(endpoint: string): string {
  if (endpoint.startsWith("unix://")) return endpoint;
  if (endpoint.startsWith("unix:")) return "unix://" + endpoint.slice(5);
  if (endpoint.startsWith("/")) return "unix://" + endpoint;
  return endpoint;
}

export class CriClient {
  private readonly runtime: RawClient;
  private readonly images: RawClient;
  readonly timeoutMs: number;
  readonly pullTimeoutMs: number;

  constructor(
    readonly endpoint: string,
    opts: ConnectOptions = {},
  ) {
    const pkg = criPackage() as unknown as {
      runtime: { v1: Record<string, grpc.ServiceClientConstructor> };
    };
    const address = endpointAddress(endpoint);
    const channelOptions: grpc.ChannelOptions = {
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
      "grpc.max_send_message_length": 16 * 1024 * 1024,
      // CRI runs on a local socket; no reason to back off long after containerd restarts.
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1000,
    };
    const creds = grpc.credentials.createInsecure();
    this.runtime = new pkg.runtime.v1.RuntimeService!(address, creds, channelOptions) as unknown as RawClient;
    // Share the channel between both services.
    this.images = new pkg.runtime.v1.ImageService!(address, creds, {
      ...channelOptions,
      channelOverride: this.runtime.getChannel(),
    }) as unknown as RawClient;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.pullTimeoutMs = opts.pullTimeoutMs ?? 600_000;
  }

  /** Creates a client and waits until the socket accepts connections. */
  static async connect(endpoint: string, opts: ConnectOptions = {}): Promise<CriClient> {
    const c = new CriClient(endpoint, opts);
    try {
      await c.waitForReady(opts.connectTimeoutMs ?? 10_000);
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  waitForReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.runtime.waitForReady(Date.now() + timeoutMs, (err) => {
        if (err) reject(new Error(`CRI endpoint ${this.endpoint} not reachable within ${timeoutMs} ms: ${err.message}`));
        else resolve();
      });
    });
  }

  close(): void {
    this.images.close();
    this.runtime.close();
  }

  private call<R>(client: RawClient, method: string, req: unknown, timeoutMs?: number): Promise<R> {
    const fn = client[method];
    if (typeof fn !== "function") return Promise.reject(new Error(`CRI method ${method} not declared in cri.proto`));
    const deadline = Date.now() + (timeoutMs ?? this.timeoutMs);
    return new Promise<R>((resolve, reject) => {
      fn.call(client, req, new grpc.Metadata(), { deadline }, (err, res) => {
        if (err) reject(new CriError(method, err.code ?? grpc.status.UNKNOWN, err.details || err.message));
        else resolve(res as R);
      });
    });
  }

  private rt<R>(method: string, req: unknown, o?: CallOptions): Promise<R> {
    return this.call<R>(this.runtime, method, req, o?.timeoutMs);
  }

  private img<R>(method: string, req: unknown, o?: CallOptions): Promise<R> {
    return this.call<R>(this.images, method, req, o?.timeoutMs);
  }

  // ---- RuntimeService -------------------------------------------------------------------

  version(o?: CallOptions): Promise<T.VersionResponse> {
    return this.rt("Version", { version: "v1" }, { timeoutMs: 10_000, ...o });
  }

  status(verbose = false, o?: CallOptions): Promise<T.StatusResponse> {
    return this.rt("Status", { verbose }, o);
  }

  /** Returns the runtime conditions as a map, e.g. { RuntimeReady: {...}, NetworkReady: {...} }. */
  async conditions(o?: CallOptions): Promise<Record<string, T.RuntimeCondition>> {
    const s = await this.status(false, o);
    return Object.fromEntries((s.status?.conditions ?? []).map((c) => [c.type, c]));
  }

  async runPodSandbox(config: T.PodSandboxConfig, runtimeHandler = "", o?: CallOptions): Promise<string> {
    const r = await this.rt<{ podSandboxId: string }>("RunPodSandbox", { config, runtimeHandler }, o);
    return r.podSandboxId;
  }

  async stopPodSandbox(podSandboxId: string, o?: CallOptions): Promise<void> {
    await this.rt("StopPodSandbox", { podSandboxId }, o);
  }

  async removePodSandbox(podSandboxId: string, o?: CallOptions): Promise<void> {
    await this.rt("RemovePodSandbox", { podSandboxId }, o);
  }

  podSandboxStatus(podSandboxId: string, verbose = false, o?: CallOptions): Promise<T.PodSandboxStatusResponse> {
    return this.rt("PodSandboxStatus", { podSandboxId, verbose }, o);
  }

  async listPodSandbox(filter?: T.PodSandboxFilter, o?: CallOptions): Promise<T.PodSandbox[]> {
    const r = await this.rt<{ items: T.PodSandbox[] }>("ListPodSandbox", { filter }, o);
    return r.items;
  }

  async createContainer(
    podSandboxId: string,
    config: T.ContainerConfig,
    sandboxConfig: T.PodSandboxConfig,
    o?: CallOptions,
  ): Promise<string> {
    const r = await this.rt<{ containerId: string }>("CreateContainer", { podSandboxId, config, sandboxConfig }, o);
    return r.containerId;
  }

  async startContainer(containerId: string, o?: CallOptions): Promise<void> {
    await this.rt("StartContainer", { containerId }, o);
  }

  /** Stops with a grace period in seconds (0 = kill at once). The deadline covers the grace period. */
  async stopContainer(containerId: string, timeoutSeconds: number, o?: CallOptions): Promise<void> {
    await this.rt("StopContainer", { containerId, timeout: timeoutSeconds }, {
      timeoutMs: this.timeoutMs + timeoutSeconds * 1000,
      ...o,
    });
  }

  async removeContainer(containerId: string, o?: CallOptions): Promise<void> {
    await this.rt("RemoveContainer", { containerId }, o);
  }

  async listContainers(filter?: T.ContainerFilter, o?: CallOptions): Promise<T.Container[]> {
    const r = await this.rt<{ containers: T.Container[] }>("ListContainers", { filter }, o);
    return r.containers;
  }

  containerStatus(containerId: string, verbose = false, o?: CallOptions): Promise<T.ContainerStatusResponse> {
    return this.rt("ContainerStatus", { containerId, verbose }, o);
  }

  async updateContainerResources(
    containerId: string,
    linux: T.LinuxContainerResources,
    annotations?: T.Labels,
    o?: CallOptions,
  ): Promise<void> {
    await this.rt("UpdateContainerResources", { containerId, linux, annotations }, o);
  }

  async reopenContainerLog(containerId: string, o?: CallOptions): Promise<void> {
    await this.rt("ReopenContainerLog", { containerId }, o);
  }

  /** Runs a command to completion. timeoutSeconds 0 = no runtime-side limit. */
  execSync(containerId: string, cmd: string[], timeoutSeconds = 0, o?: CallOptions): Promise<T.ExecSyncResult> {
    const timeoutMs = timeoutSeconds > 0 ? timeoutSeconds * 1000 + 10_000 : this.timeoutMs;
    return this.rt("ExecSync", { containerId, cmd, timeout: timeoutSeconds }, { timeoutMs, ...o });
  }

  /** Returns the URL of the runtime's streaming server for this exec session. */
  async exec(req: T.ExecRequest, o?: CallOptions): Promise<string> {
    const r = await this.rt<{ url: string }>("Exec", req, o);
    return r.url;
  }

  async attach(req: T.AttachRequest, o?: CallOptions): Promise<string> {
    const r = await this.rt<{ url: string }>("Attach", req, o);
    return r.url;
  }

  async portForward(podSandboxId: string, ports: number[], o?: CallOptions): Promise<string> {
    const r = await this.rt<{ url: string }>("PortForward", { podSandboxId, port: ports }, o);
    return r.url;
  }

  async containerStats(containerId: string, o?: CallOptions): Promise<T.ContainerStats | null> {
    const r = await this.rt<{ stats: T.ContainerStats | null }>("ContainerStats", { containerId }, o);
    return r.stats;
  }

  async listContainerStats(filter?: T.ContainerStatsFilter, o?: CallOptions): Promise<T.ContainerStats[]> {
    const r = await this.rt<{ stats: T.ContainerStats[] }>("ListContainerStats", { filter }, o);
    return r.stats;
  }

  // ---- ImageService ---------------------------------------------------------------------

  async listImages(filter?: T.ImageSpec, o?: CallOptions): Promise<T.Image[]> {
    const r = await this.img<{ images: T.Image[] }>("ListImages", { filter: filter ? { image: filter } : undefined }, o);
    return r.images;
  }

  /** Returns the image, or null when it is not present. */
  async imageStatus(image: string, o?: CallOptions): Promise<T.Image | null> {
    const r = await this.img<{ image: T.Image | null }>("ImageStatus", { image: { image } }, o);
    return r.image && r.image.id ? r.image : null;
  }

  /** Pulls from a registry; returns the image ref (ID). */
  async pullImage(image: string, auth?: T.AuthConfig, sandboxConfig?: T.PodSandboxConfig, o?: CallOptions): Promise<string> {
    const r = await this.img<{ imageRef: string }>(
      "PullImage",
      { image: { image }, auth, sandboxConfig },
      { timeoutMs: this.pullTimeoutMs, ...o },
    );
    return r.imageRef;
  }

  async removeImage(image: string, o?: CallOptions): Promise<void> {
    await this.img("RemoveImage", { image: { image } }, o);
  }

  imageFsInfo(o?: CallOptions): Promise<T.ImageFsInfoResponse> {
    return this.img("ImageFsInfo", {}, o);
  }
}
