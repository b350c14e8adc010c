// Limits that keep one client from exhausting the server (kube-apiserver's defaults where it
// has them): bodies of at most 3 MiB, a body that stalls or a connection that idles is closed,
// requests in flight are capped like --max-requests-inflight / --max-mutating-requests-inflight
// (429 with Retry-After; watches and streams are long-running and not counted, cluster admins
// are exempt as upstream exempts system:masters), open watches per user are capped, and
// Warning headers are truncated as upstream's warning recorder does.
//
// Every value can be changed with an environment variable (SKIFF_MAX_REQUESTS_INFLIGHT, ...).

export interface Limits {
  /** Largest request body (upstream: 3 MiB for JSON/YAML/protobuf). */
  maxBodyBytes: number;
  /** A request body that sends nothing for this long is abandoned (408) and its connection closed. */
  bodyStallMs: number;
  /** A connection with no request in progress is closed after this long (also one that never sends its headers). */
  idleConnectionMs: number;
  /** Read requests in flight at once (watches, logs and exec are not counted). */
  maxRequestsInflight: number;
  /** Mutating requests in flight at once. */
  maxMutatingInflight: number;
  /** Open watches per user (cluster admins are exempt). */
  maxWatchesPerUser: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxBodyBytes: 3 * 1024 * 1024,
  bodyStallMs: 30_000,
  idleConnectionMs: 90_000,
  maxRequestsInflight: 400,
  maxMutatingInflight: 200,
  maxWatchesPerUser: 500,
};

const ENV: Record<keyof Limits, string> = {
  maxBodyBytes: "SKIFF_MAX_BODY_BYTES",
  bodyStallMs: "SKIFF_BODY_STALL_MS",
  idleConnectionMs: "SKIFF_IDLE_CONNECTION_MS",
  maxRequestsInflight: "SKIFF_MAX_REQUESTS_INFLIGHT",
  maxMutatingInflight: "SKIFF_MAX_MUTATING_REQUESTS_INFLIGHT",
  maxWatchesPerUser: "SKIFF_MAX_WATCHES_PER_USER",
};

/** The defaults, overridden by positive integers in the environment. */
export function limitsFromEnv(env: Record<string, string | undefined> = process.env): Limits {
  const out = { ...DEFAULT_LIMITS };
  for (const k of Object.keys(ENV) as (keyof Limits)[]) {
    const v = Number(env[ENV[k]]);
    if (Number.isInteger(v) && v > 0) out[k] = v;
  }
  return out;
}

const goBool = (v: string | null) => v !== null && ["1", "t", "T", "true", "TRUE", "True"].includes(v);

/** Requests that stay open by design (upstream's long-running check): watches and streams. */
export function isLongRunning(method: string, url: URL): boolean {
  if (method !== "GET") return false;
  const p = url.pathname;
  if (goBool(url.searchParams.get("watch")) || /^\/apis?\/(?:[^/]+\/)?[^/]+\/watch\//.test(p)) return true;
  return /\/pods\/[^/]+\/(?:log|exec|attach|portforward|proxy)$/.test(p);
}

export function isWatch(method: string, url: URL): boolean {
  return method === "GET" && (goBool(url.searchParams.get("watch")) || /^\/apis?\/(?:[^/]+\/)?[^/]+\/watch\//.test(url.pathname));
}

export const isMutating = (method: string) => !["GET", "HEAD", "OPTIONS"].includes(method);

/** A counting semaphore that refuses instead of queueing (upstream's max-in-flight filter). */
export class Inflight {
  private n = 0;
  constructor(readonly max: number) {}
  get current(): number {
    return this.n;
  }
  /** A release function, or undefined when full. */
  tryEnter(): (() => void) | undefined {
    if (this.n >= this.max) return undefined;
    this.n++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.n--;
    };
  }
}

/** Open watches per user. */
export class WatchCounter {
  private byUser = new Map<string, number>();
  constructor(readonly max: number) {}
  tryEnter(user: string): (() => void) | undefined {
    const n = this.byUser.get(user) ?? 0;
    if (n >= this.max) return undefined;
    this.byUser.set(user, n + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const m = (this.byUser.get(user) ?? 1) - 1;
      if (m > 0) this.byUser.set(user, m);
      else this.byUser.delete(user);
    };
  }
}

/** A response body that calls `onDone` once, when it ends, fails or the reader goes away. */
export function onBodyDone(res: Response, onDone: () => void): Response {
  if (!res.body) {
    onDone();
    return res;
  }
  const reader = res.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          onDone();
          ctrl.close();
        } else ctrl.enqueue(value);
      } catch (e) {
        onDone();
        ctrl.error(e);
      }
    },
    cancel(reason) {
      onDone();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** Upstream's warning recorder: past 4 Ki runes in all, each is cut to 256 and the rest dropped. */
export const WARNINGS_TOTAL_RUNES = 4 * 1024;
export const WARNING_ITEM_RUNES = 256;

/** The texts of `299 - "text"` Warning header values (one header may hold several, comma-joined). */
export function parseWarnings(header: string): string[] {
  const out: string[] = [];
  const re = /\d{3} [^ ]+ "((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(header); m; m = re.exec(header)) out.push(m[1]!.replace(/\\(.)/g, "$1"));
  return out;
}

export function formatWarning(text: string): string {
  return `299 - "${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** Deduplicated warnings within upstream's budget. */
export function capWarnings(texts: string[]): string[] {
  const unique = [...new Set(texts)];
  const runes = (s: string) => [...s].length;
  let total = 0;
  for (const w of unique) total += runes(w);
  if (total <= WARNINGS_TOTAL_RUNES) return unique;
  const out: string[] = [];
  total = 0;
  for (const w of unique) {
    const chars = [...w];
    const cut = chars.length > WARNING_ITEM_RUNES ? chars.slice(0, WARNING_ITEM_RUNES).join("") : w;
    const n = runes(cut);
    if (total + n > WARNINGS_TOTAL_RUNES) break;
    total += n;
    out.push(cut);
  }
  return out;
}
