// CRI client: runtime.v1 RuntimeService and ImageService over gRPC on a unix socket.
//
//   const cri = await CriClient.connect("/var/lib/skiff/agent/containerd/containerd.sock");
//   const { runtimeVersion } = await cri.version();
//   const id = await cri.runPodSandbox(config);
//
// The messages and services come from schemas/proto/cri.proto: descriptor.ts turns it into a
// descriptor at bundle time (a Bun macro, so the `bun build --compile` binary carries the result,
// not protobufjs), codec.ts encodes and decodes with proto-loader's object conventions, and
// grpc.ts carries the unary calls over HTTP/2.
// Every call has a deadline (kubelet's 2-minute runtime request timeout by default) and fails
// with a CriError that names the method and the gRPC status.

import { observeCriCall } from "../metrics.ts";
import { CriCodec } from "./codec.ts";
import { criDescriptor } from "./descriptor.ts" with { type: "macro" };
import { GrpcError, STATUS_NAMES, Status, UnaryChannel } from "./grpc.ts";
import type * as T from "./types.ts";

export * from "./types.ts";

/** Inlined at bundle time (one literal; each macro call would inline another copy). */
const DESCRIPTOR = criDescriptor();

let codecCache: CriCodec | null = null;

export function criCodec(): CriCodec {
  return (codecCache ??= new CriCodec(DESCRIPTOR));
}

/** The services of cri.proto: service → method → [request type, response type]. */
export function criServices(): Record<string, Record<string, readonly [string, string]>> {
  return DESCRIPTOR.services;
}

export class CriError extends Error {
  override name = "CriError";
  constructor(
    readonly method: string,
    /** gRPC status code (see grpc.ts Status). */
    readonly code: number,
    /** The runtime's own message. */
    readonly details: string,
  ) {
    super(`CRI ${method}: ${STATUS_NAMES[code] ?? code}: ${details}`);
  }
  get notFound(): boolean {
    return this.code === Status.NOT_FOUND;
  }
  get unavailable(): boolean {
    return this.code === Status.UNAVAILABLE;
  }
  get deadlineExceeded(): boolean {
    return this.code === Status.DEADLINE_EXCEEDED;
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

/** Accepts "unix:///path", "unix:/path" or a plain "/path". */
export function endpointAddress(endpoint: string): string {
  if (endpoint.startsWith("unix://")) return endpoint;
  if (endpoint.startsWith("unix:")) return "unix://" + endpoint.slice(5);
  if (endpoint.startsWith("/")) return "unix://" + endpoint;
  return endpoint;
}

/** The socket path of a unix endpoint ("unix:///run/x.sock" → "/run/x.sock"). */
function socketPath(endpoint: string): string {
  const a = endpointAddress(endpoint);
  if (!a.startsWith("unix://")) throw new Error(`CRI endpoint ${endpoint}: only unix sockets are supported (unix:///path/to/socket)`);
  return a.slice("unix://".length);
}

const RUNTIME = "runtime.v1.RuntimeService";
const IMAGES = "runtime.v1.ImageService";

export class CriClient {
  /** RuntimeService and ImageService share the one connection, as they do in kubelet. */
  private readonly channel: UnaryChannel;
  private readonly codec = criCodec();
  readonly timeoutMs: number;
  readonly pullTimeoutMs: number;

  constructor(
    readonly endpoint: string,
    opts: ConnectOptions = {},
  ) {
    this.channel = new UnaryChannel(socketPath(endpoint), { maxReceiveBytes: 16 * 1024 * 1024 });
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

  async waitForReady(timeoutMs: number): Promise<void> {
    try {
      await this.channel.waitForReady(Date.now() + timeoutMs);
    } catch (e) {
      throw new Error(`CRI endpoint ${this.endpoint} not reachable within ${timeoutMs} ms: ${(e as Error).message}`);
    }
  }

  close(): void {
    this.channel.close();
  }

  private async call<R>(service: string, method: string, req: unknown, timeoutMs?: number): Promise<R> {
    const types = DESCRIPTOR.services[service]?.[method];
    if (!types) throw new Error(`CRI method ${method} not declared in cri.proto`);
    const [reqType, resType] = types;
    let body: Buffer;
    const started = performance.now();
    try {
      body = await this.channel.call(`/${service}/${method}`, this.codec.encode(reqType, req), Date.now() + (timeoutMs ?? this.timeoutMs));
      observeCriCall(method, (performance.now() - started) / 1000, false);
    } catch (e) {
      observeCriCall(method, (performance.now() - started) / 1000, true);
      if (e instanceof GrpcError) throw new CriError(method, e.code, e.details);
      throw new CriError(method, Status.INTERNAL, (e as Error).message);
    }
    try {
      return this.codec.decode(resType, body) as R;
    } catch (e) {
      throw new CriError(method, Status.INTERNAL, `cannot decode ${resType}: ${(e as Error).message}`);
    }
  }

  private rt<R>(method: string, req: unknown, o?: CallOptions): Promise<R> {
    return this.call<R>(RUNTIME, method, req, o?.timeoutMs);
  }

  private img<R>(method: string, req: unknown, o?: CallOptions): Promise<R> {
    return this.call<R>(IMAGES, method, req, o?.timeoutMs);
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
