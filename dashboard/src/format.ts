// Display helpers: ages, quantities, and the status words kubectl prints.

export function age(ts: string | undefined, now = Date.now()): string {
  if (!ts) return "-";
  const s = Math.max(0, Math.floor((now - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, Pi: 1024 ** 5, Ei: 1024 ** 6,
};

/** A Kubernetes quantity ("250m", "512Mi", "2") as a number. */
export function quantity(q: string | number | undefined): number {
  if (q === undefined || q === null) return NaN;
  if (typeof q === "number") return q;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$/.exec(q.trim());
  if (!m) return NaN;
  const mult = SUFFIX[m[2]!];
  return mult === undefined ? NaN : Number(m[1]) * mult;
}

export function bytes(n: number): string {
  if (!Number.isFinite(n)) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

export function cores(n: number): string {
  if (!Number.isFinite(n)) return "-";
  return n < 1 ? `${Math.round(n * 1000)}m` : `${n.toFixed(n < 10 ? 2 : 1)}`;
}

export function condition(o: any, type: string): any {
  return (o?.status?.conditions ?? []).find((c: any) => c.type === type);
}

/** The STATUS column of `kubectl get pods`. */
export function podStatus(p: any): string {
  if (p.metadata?.deletionTimestamp) return "Terminating";
  const st = p.status ?? {};
  if (st.reason) return st.reason;
  for (const c of st.initContainerStatuses ?? []) {
    if (c.state?.terminated && c.state.terminated.exitCode !== 0) return `Init:${c.state.terminated.reason ?? "Error"}`;
    if (c.state?.waiting?.reason && c.state.waiting.reason !== "PodInitializing") return `Init:${c.state.waiting.reason}`;
  }
  let reason = st.phase ?? "Unknown";
  for (const c of st.containerStatuses ?? []) {
    if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
    else if (c.state?.terminated?.reason && reason === "Running") reason = c.state.terminated.reason;
  }
  return reason;
}

/** "good" | "warn" | "bad" | "idle": the colour of a status word. */
export function tone(status: string): string {
  if (/^(Running|Ready|Succeeded|Completed|Active|Bound|True|Available|Complete|ok)$/.test(status)) return "good";
  if (/^(Pending|ContainerCreating|PodInitializing|Terminating|Progressing|Unknown|Suspended|NotReady)$/.test(status) || status.startsWith("Init:")) return "warn";
  if (/Err|BackOff|Fail|Evicted|OOM|Offline|Invalid|Unreachable|False|Lost/.test(status)) return "bad";
  return "idle";
}

export function restarts(p: any): number {
  return (p.status?.containerStatuses ?? []).reduce((n: number, c: any) => n + (c.restartCount ?? 0), 0);
}

export function readyCount(p: any): string {
  const cs = p.status?.containerStatuses ?? [];
  const total = p.spec?.containers?.length ?? cs.length;
  return `${cs.filter((c: any) => c.ready).length}/${total}`;
}

/** matchLabels / matchExpressions against labels. */
export function matches(selector: any, labels: Record<string, string> = {}): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const val = labels[e.key];
    if (e.operator === "In" && !(has && e.values?.includes(val))) return false;
    if (e.operator === "NotIn" && has && e.values?.includes(val)) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}
