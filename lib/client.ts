// A small Kubernetes REST client (fetch + newline-delimited JSON watch), shared by the CLI
// and the agent. It knows paths and Status errors, nothing about particular kinds.
import type { ClientConfig } from "./kubeconfig";

/** What a resource path needs; RegisteredResource satisfies it. */
export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  namespaced: boolean;
}

/** `/api/v1/namespaces/NS/pods/NAME/sub` or `/apis/apps/v1/deployments` (all namespaces). */
export function resourcePath(r: ResourceRef, namespace?: string, name?: string, subresource?: string): string {
  let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  if (r.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${r.plural}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}

export interface Status {
  kind: "Status";
  apiVersion?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; group?: string; kind?: string; causes?: { reason?: string; message?: string; field?: string }[] };
}

/** An error answer from the API server, carrying its Status. */
export class ApiError extends Error {
  constructor(
    public readonly status: Status,
    public readonly code: number,
  ) {
    super(status.message ?? `the server responded with status ${code}`);
  }
  get reason(): string {
    return this.status.reason || reasonForCode(this.code);
  }
}

/** The server could not be reached at all. */
export class ConnectionError extends Error {
  constructor(
    public readonly hostPort: string,
    public readonly kind: "refused" | "other",
    detail: string,
  ) {
    super(kind === "refused" ? `The connection to the server ${hostPort} was refused - did you specify the right host or port?` : `Unable to connect to the server: ${detail}`);
  }
}

function reasonForCode(code: number): string {
  const m: Record<number, string> = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
  };
  return m[code] ?? "Unknown";
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  accept?: string;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
}

export interface WatchEvent<T = any> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

export const TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

export class KubeClient {
  /** The configured server first, then others of the cluster (setServers); `cur` is in use. */
  private servers: string[];
  private cur = 0;
  private readonly tls: Record<string, unknown> | undefined;
  private authHeader: string | undefined;
  private readonly serverListeners = new Set<() => void>();

  constructor(readonly cfg: ClientConfig) {
    this.servers = [cfg.server.replace(/\/+$/, "")];
    if (this.server.startsWith("https:")) {
      const tls: Record<string, unknown> = {};
      if (cfg.ca) tls.ca = cfg.ca;
      if (cfg.cert) tls.cert = cfg.cert;
      if (cfg.key) tls.key = cfg.key;
      if (cfg.insecureSkipTLSVerify) tls.rejectUnauthorized = false;
      this.tls = tls;
    }
    if (cfg.token) this.authHeader = `Bearer ${cfg.token}`;
    else if (cfg.username !== undefined && cfg.password !== undefined)
      this.authHeader = `Basic ${Buffer.from(`${cfg.username}:${cfg.password}`).toString("base64")}`;
  }

  /** A new bearer token for the next requests (node credentials are renewed before they expire). */
  setToken(token: string): void {
    this.authHeader = `Bearer ${token}`;
  }

  /** The server requests go to now. */
  get server(): string {
    return this.servers[this.cur]!;
  }

  /** Every server known, the configured one first. */
  get knownServers(): string[] {
    return [...this.servers];
  }

  /**
   * Other servers of the same cluster (same CA and credentials) to move to when the one in use
   * cannot be reached; the configured server stays first. The one in use stays in use.
   */
  setServers(urls: string[]): void {
    const inUse = this.server;
    const all = [this.servers[0]!, ...urls.map((u) => u.replace(/\/+$/, ""))].filter((u, i, a) => u && a.indexOf(u) === i);
    this.servers = all;
    this.cur = Math.max(0, all.indexOf(inUse));
  }

  /** `url` failed: the next server is used from now on (no-op if another request moved on already). */
  failedOver(url: string): boolean {
    if (this.servers.length < 2 || this.server !== url) return false;
    this.cur = (this.cur + 1) % this.servers.length;
    for (const f of this.serverListeners) f();
    return true;
  }

  /** Called after every move to another server; returns the unsubscribe function. */
  onServerChange(f: () => void): () => void {
    this.serverListeners.add(f);
    return () => this.serverListeners.delete(f);
  }

  url(path: string, query?: RequestOptions["query"]): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") qs.set(k, String(v));
    const s = qs.toString();
    return `${this.server}${path}${s ? `?${s}` : ""}`;
  }

  /** Raw request; throws ConnectionError when the server cannot be reached, never on HTTP status. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { Accept: opts.accept ?? "application/json", "User-Agent": "skiff" };
    if (this.authHeader) headers.Authorization = this.authHeader;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
      headers["Content-Type"] = opts.contentType ?? "application/json";
    }
    const init: RequestInit & { tls?: unknown } = { method, headers, body, signal: opts.signal };
    if (this.tls) init.tls = this.tls;
    // An unreachable server: the request goes to the next one, each at most once, when that is
    // safe: reads always, writes only when the connection was never made (a write cut off
    // mid-way may have been applied).
    const retryable = (e: any) => method === "GET" || method === "HEAD" || CONNECT_ERRORS.has(e?.code);
    for (let tried = 1; ; tried++) {
      const server = this.server;
      try {
        const res = await fetch(this.url(path, opts.query), init);
        // A server without quorum (or one shutting down) answers 503: later requests try another.
        if (res.status === 503) this.failedOver(server);
        return res;
      } catch (e: any) {
        if (e?.name === "AbortError" || opts.signal?.aborted) {
          // A server that hangs until the caller's timeout: later requests try another.
          if (opts.signal?.reason?.name === "TimeoutError") this.failedOver(server);
          throw e;
        }
        this.failedOver(server);
        if (tried < this.servers.length && this.server !== server && retryable(e)) continue;
        const u = new URL(server);
        const hostPort = u.port ? u.host : `${u.hostname}:${u.protocol === "https:" ? 443 : 80}`;
        const refused = e?.code === "ECONNREFUSED" || e?.code === "ConnectionRefused";
        throw new ConnectionError(hostPort, refused ? "refused" : "other", `${e?.code ? e.code + ": " : ""}${e?.message ?? e}`);
      }
    }
  }

  /** Request and decode a JSON answer; a non-2xx answer becomes an ApiError. */
  async json<T = any>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, opts);
    const text = await res.text();
    if (!res.ok) throw toApiError(res.status, text);
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError({ kind: "Status", message: `invalid JSON from server: ${text.slice(0, 200)}`, code: res.status }, res.status);
    }
  }

  list<T = any>(path: string, query?: RequestOptions["query"], accept?: string): Promise<T> {
    return this.json<T>("GET", path, { query, accept });
  }
  get<T = any>(path: string, query?: RequestOptions["query"], accept?: string): Promise<T> {
    return this.json<T>("GET", path, { query, accept });
  }
  create<T = any>(path: string, body: unknown, query?: RequestOptions["query"]): Promise<T> {
    return this.json<T>("POST", path, { body, query });
  }
  patch<T = any>(path: string, body: unknown, contentType: string, query?: RequestOptions["query"]): Promise<T> {
    return this.json<T>("PATCH", path, { body, contentType, query });
  }
  delete<T = any>(path: string, body?: unknown, query?: RequestOptions["query"]): Promise<T> {
    return this.json<T>("DELETE", path, { body, query });
  }

  /**
   * Watch `path` (a collection) and call onEvent for each event until the stream ends or
   * `signal` aborts. Resolves when the server closes the stream; ERROR events carrying a
   * Status (410 Expired...) are passed to onEvent like the others.
   */
  async watch<T = any>(
    path: string,
    query: RequestOptions["query"],
    onEvent: (ev: WatchEvent<T>) => void | boolean | Promise<void | boolean>,
    signal?: AbortSignal,
    accept?: string,
  ): Promise<void> {
    // A move to another server ends this watch (the caller re-watches there): a stream from a
    // server that went silent would otherwise hang until the idle timeout.
    const moved = new AbortController();
    const unlink = this.onServerChange(() => moved.abort());
    const both = signal ? AbortSignal.any([signal, moved.signal]) : moved.signal;
    try {
      await this.watchOn(path, query, onEvent, both, signal, accept);
    } finally {
      unlink();
    }
  }

  private async watchOn<T>(
    path: string,
    query: RequestOptions["query"],
    onEvent: (ev: WatchEvent<T>) => void | boolean | Promise<void | boolean>,
    both: AbortSignal,
    signal: AbortSignal | undefined,
    accept: string | undefined,
  ): Promise<void> {
    let res: Response;
    try {
      res = await this.request("GET", path, { query: { ...query, watch: "true" }, signal: both, accept });
    } catch (e: any) {
      if (both.aborted && !signal?.aborted) return;
      throw e;
    }
    if (!res.ok) throw toApiError(res.status, await res.text());
    if (!res.body) return;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          // Returning false from onEvent stops the watch.
          if ((await onEvent(JSON.parse(line) as WatchEvent<T>)) === false) return;
        }
      }
      const rest = buf.trim();
      if (rest) await onEvent(JSON.parse(rest) as WatchEvent<T>);
    } catch (e: any) {
      if (e?.name === "AbortError" || both.aborted) return;
      throw e;
    } finally {
      reader.cancel().catch(() => {});
    }
  }
}

/** Errors of a connection that was never made: a write can safely go to another server. */
const CONNECT_ERRORS = new Set(["ECONNREFUSED", "ConnectionRefused", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "FailedToOpenSocket"]);

export function toApiError(code: number, text: string): ApiError {
  let status: Status | undefined;
  try {
    const j = JSON.parse(text);
    if (j && j.kind === "Status") status = j;
  } catch {
    /* not JSON */
  }
  if (!status) {
    const msg = text.trim() || `the server responded with status ${code}`;
    status = { kind: "Status", status: "Failure", code, reason: reasonForCode(code), message: msg };
  }
  return new ApiError(status, code);
}
