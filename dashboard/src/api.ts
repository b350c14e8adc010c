// The public Kubernetes API, called as the signed-in user: requests with the bearer token,
// Status errors as ApiError, and list+watch loops that resume from the last resourceVersion.

export interface Res {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

export interface Cause {
  field?: string;
  message?: string;
  reason?: string;
}

/** A Kubernetes Status the server answered with (or a network failure, code 0). */
export class ApiError extends Error {
  constructor(
    public code: number,
    public reason: string,
    message: string,
    public causes: Cause[] = [],
  ) {
    super(message);
  }
}

let token = "";
let onUnauthorized: () => void = () => {};

export function setToken(t: string, unauthorized?: () => void): void {
  token = t;
  if (unauthorized) onUnauthorized = unauthorized;
}

export function getToken(): string {
  return token;
}

export function groupVersion(r: Res): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

export function apiPath(r: Res, ns?: string, name?: string, sub?: string): string {
  let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  if (r.namespaced && ns) p += `/namespaces/${encodeURIComponent(ns)}`;
  p += `/${r.plural}`;
  if (name) p += `/${encodeURIComponent(name)}`;
  if (sub) p += `/${sub}`;
  return p;
}

function headers(extra?: Record<string, string>): Record<string, string> {
  return { Authorization: `Bearer ${token}`, Accept: "application/json", ...extra };
}

async function errorOf(r: Response): Promise<ApiError> {
  const text = await r.text().catch(() => "");
  try {
    const s = JSON.parse(text);
    if (s && s.kind === "Status") return new ApiError(s.code ?? r.status, s.reason ?? "", s.message ?? text, s.details?.causes ?? []);
  } catch {
    // not a Status: the text itself is the message
  }
  return new ApiError(r.status, r.statusText, text.trim() || `${r.status} ${r.statusText}`);
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

/** One API call; resolves to the parsed JSON body, rejects with ApiError. */
export async function request<T = any>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
  const init: RequestInit = { method, headers: headers(o.body !== undefined ? { "Content-Type": o.contentType ?? "application/json" } : undefined), signal: o.signal };
  if (o.body !== undefined) init.body = typeof o.body === "string" ? o.body : JSON.stringify(o.body);
  let r: Response;
  try {
    r = await fetch(path, init);
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "NetworkError", `cannot reach the server: ${(e as Error).message}`);
  }
  if (!r.ok) {
    const err = await errorOf(r);
    if (r.status === 401) onUnauthorized();
    throw err;
  }
  const text = await r.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A streaming GET (watch, logs -f): calls onLine for each line of the body until it ends. */
export async function streamLines(path: string, signal: AbortSignal, onLine: (line: string) => void): Promise<void> {
  let r: Response;
  try {
    r = await fetch(path, { headers: headers(), signal });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "NetworkError", `cannot reach the server: ${(e as Error).message}`);
  }
  if (!r.ok) {
    const err = await errorOf(r);
    if (r.status === 401) onUnauthorized();
    throw err;
  }
  const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += value;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        onLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    }
    if (buf) onLine(buf);
  } finally {
    reader.cancel().catch(() => {});
  }
}

export interface WatchHandlers {
  /** The full list (first sync, and again after the watch window expired). */
  reset(items: any[]): void;
  event(type: "ADDED" | "MODIFIED" | "DELETED", obj: any): void;
  /** A failure: `final` when retrying cannot help (forbidden, not found). */
  error(e: ApiError, final: boolean): void;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((ok) => {
    const t = setTimeout(ok, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), ok()), { once: true });
  });

/** List, then watch from the list's resourceVersion; relists on 410 Gone. Returns stop(). */
export function listWatch(r: Res, ns: string | undefined, h: WatchHandlers, query = ""): () => void {
  const ac = new AbortController();
  const base = apiPath(r, ns);
  const q = query ? `&${query}` : "";
  void (async () => {
    let rv = "";
    let backoff = 500;
    while (!ac.signal.aborted) {
      try {
        if (!rv) {
          const list = await request("GET", `${base}?limit=5000${q}`, { signal: ac.signal });
          const apiVersion = groupVersion(r);
          h.reset((list.items ?? []).map((o: any) => ({ apiVersion, kind: r.kind, ...o })));
          rv = list.metadata?.resourceVersion ?? "";
        }
        const started = Date.now();
        await watchSocket(`${base}?watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(rv)}${q}`, ac.signal, (line) => {
          if (!line.trim()) return;
          const ev = JSON.parse(line);
          if (ev.type === "ERROR") {
            const s = ev.object ?? {};
            throw new ApiError(s.code ?? 500, s.reason ?? "", s.message ?? "watch failed");
          }
          rv = ev.object?.metadata?.resourceVersion ?? rv;
          if (ev.type !== "BOOKMARK") h.event(ev.type, ev.object);
          backoff = 500;
        });
        // The server closes watches after a while; one that ends at once is not healthy.
        if (Date.now() - started < 1000) {
          await sleep(backoff, ac.signal);
          backoff = Math.min(backoff * 2, 10_000);
        }
      } catch (e) {
        if (ac.signal.aborted) return;
        const err = e instanceof ApiError ? e : new ApiError(0, "Error", String((e as Error).message ?? e));
        if (err.code === 410) {
          rv = "";
          continue;
        }
        if (err.code === 401) onUnauthorized();
        const final = err.code === 401 || err.code === 403 || err.code === 404;
        h.error(err, final);
        if (final) return;
        await sleep(backoff, ac.signal);
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  })();
  return () => ac.abort();
}

/** Who the token belongs to (SelfSubjectReview, what `kubectl auth whoami` asks). */
export async function whoAmI(): Promise<{ username: string; groups: string[] }> {
  const r = await request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
    body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
  });
  const u = r?.status?.userInfo ?? {};
  return { username: u.username ?? "", groups: u.groups ?? [] };
}

function bearerProtocol(): string {
  const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(token)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
  return `base64url.bearer.authorization.k8s.io.${b64}`;
}

function wsUrl(path: string): string {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}

/**
 * A watch over WebSocket, one event per message, until the server ends it. Not a streaming
 * GET: over HTTP/1.1 a browser keeps at most six connections to the server, and a page with
 * more watches than that could make no other request.
 */
export function watchSocket(path: string, signal: AbortSignal, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(path), ["binary.k8s.io", bearerProtocol()]);
    ws.binaryType = "arraybuffer";
    const dec = new TextDecoder();
    let opened = false;
    const abort = () => ws.close(1000);
    signal.addEventListener("abort", abort, { once: true });
    ws.onopen = () => (opened = true);
    ws.onmessage = (m) => {
      try {
        onLine(typeof m.data === "string" ? m.data : dec.decode(m.data as ArrayBuffer));
      } catch (e) {
        ws.close(1000);
        reject(e);
      }
    };
    ws.onclose = (e) => {
      signal.removeEventListener("abort", abort);
      if (signal.aborted) reject(new DOMException("aborted", "AbortError"));
      else if (!opened || e.code !== 1000) reject(new ApiError(0, "NetworkError", `the watch connection closed (${e.code})`));
      else resolve();
    };
  });
}

/** The exec WebSocket's URL and sub-protocols (the token rides in one, as kube-apiserver accepts). */
export function execSocket(ns: string, pod: string, container: string, command: string[]): { url: string; protocols: string[] } {
  const q = new URLSearchParams({ container, stdin: "true", stdout: "true", tty: "true" });
  for (const c of command) q.append("command", c);
  const url = wsUrl(`/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod)}/exec?${q}`);
  return { url, protocols: ["v5.channel.k8s.io", "v4.channel.k8s.io", bearerProtocol()] };
}
