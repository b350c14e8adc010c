// App-wide state: tiny observable values (the session, the namespace, the route, the clock).
import { useEffect, useState } from "preact/hooks";

export interface Atom<T> {
  get(): T;
  set(v: T): void;
  subscribe(cb: () => void): () => void;
}

export function atom<T>(value: T): Atom<T> {
  const subs = new Set<() => void>();
  return {
    get: () => value,
    set(v) {
      if (v === value) return;
      value = v;
      for (const s of subs) s();
    },
    subscribe(cb) {
      subs.add(cb);
      return () => subs.delete(cb);
    },
  };
}

export function useAtom<T>(a: Atom<T>): T {
  const [, set] = useState(0);
  useEffect(() => a.subscribe(() => set((n) => n + 1)), [a]);
  return a.get();
}

export interface Session {
  token: string;
  username: string;
  groups: string[];
}
export const session = atom<Session | null>(null);

/** The namespace the views show ("" = all namespaces). */
export const namespace = atom<string>(localStorage.getItem("skiff.ns") ?? "");
namespace.subscribe(() => localStorage.setItem("skiff.ns", namespace.get()));

export interface Route {
  parts: string[];
  query: URLSearchParams;
}
function parseHash(): Route {
  const h = location.hash.replace(/^#\/?/, "");
  const [path = "", q = ""] = h.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q) };
}
export const route = atom<Route>(parseHash());
addEventListener("hashchange", () => route.set(parseHash()));

/** Ticks every 10 s so ages ("5m") stay current; no request is made. */
export const now = atom(Date.now());
setInterval(() => now.set(Date.now()), 10_000);
