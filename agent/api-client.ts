// The agent's view of the API server: lib/client.ts's KubeClient built from the connection
// settings the agent is given ({ server, caData, token }), plus the few calls the agent makes.
// Every call has a timeout so a hung server never blocks a pod worker.

import { ApiError, ConnectionError, KubeClient } from "../lib/client.ts";

export interface ConnectionSettings {
  server: string;
  /** PEM of the cluster CA (pinned). */
  caData?: string;
  token?: string;
}

export function makeClient(c: ConnectionSettings): KubeClient {
  return new KubeClient({ server: c.server, ca: c.caData, token: c.token, namespace: "default", sources: [] });
}

/** Something that comes from the server was never read yet (the agent has been offline since
 *  it started): like an unreachable server, the agent goes on from what it cached. */
export class NotYetReadError extends Error {
  override name = "NotYetReadError";
}

/** The server could not be reached or did not answer in time: keep going from the cache. */
export function isUnreachable(e: unknown): boolean {
  if (e instanceof ConnectionError || e instanceof NotYetReadError) return true;
  if (e instanceof ApiError) return e.code >= 500 || e.code === 429;
  const name = (e as { name?: string })?.name;
  return name === "TimeoutError" || name === "AbortError";
}

export function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.code === 404;
}

export function isConflict(e: unknown): boolean {
  return e instanceof ApiError && e.code === 409;
}

export const REQUEST_TIMEOUT_MS = 15_000;

export class AgentApi {
  constructor(readonly client: KubeClient) {}

  private signal(ms = REQUEST_TIMEOUT_MS): AbortSignal {
    return AbortSignal.timeout(ms);
  }

  get<T = any>(path: string, query?: Record<string, string | number | boolean | undefined>): Promise<T> {
    return this.client.json<T>("GET", path, { query, signal: this.signal() });
  }
  create<T = any>(path: string, body: unknown): Promise<T> {
    return this.client.json<T>("POST", path, { body, signal: this.signal() });
  }
  put<T = any>(path: string, body: unknown): Promise<T> {
    return this.client.json<T>("PUT", path, { body, signal: this.signal() });
  }
  mergePatch<T = any>(path: string, body: unknown): Promise<T> {
    return this.client.json<T>("PATCH", path, { body, contentType: "application/merge-patch+json", signal: this.signal() });
  }
  delete<T = any>(path: string, body?: unknown): Promise<T> {
    return this.client.json<T>("DELETE", path, { body, signal: this.signal() });
  }
}

export const podPath = (ns: string, name: string) => `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`;
export const nsPath = (ns: string, plural: string, name?: string) =>
  `/api/v1/namespaces/${encodeURIComponent(ns)}/${plural}${name !== undefined ? "/" + encodeURIComponent(name) : ""}`;
