// The resource quota controller: keeps each ResourceQuota's status true. status.hard follows
// spec.hard; status.used is the sum over the namespace's objects (upstream's evaluators, shared
// with the ResourceQuota admission plugin). Admission charges creates as they happen; this
// controller recomputes when a quota is created or changed, when objects go away (deletes,
// pods that finish) and on a periodic resync. A recompute that would lower a quota that was
// charged moments ago waits: the object that charge was for may not be stored yet, and
// lowering the count before it lands would let a later create through (double spend).
import { findByKind } from "../../schemas/registry";
import { hardOf, podCounts, quotaMatches, usageOf } from "../admission/quota-usage";
import { addInto, amounts, isBinary, nanosStr, type Amounts } from "../admission/resources";
import { resKeyOf } from "../store/commands";
import { Controller, type ControllerContext } from "./runtime/controller";
import { objKey, splitKey, type Informer } from "./runtime/informer";

const QUOTA = findByKind("v1", "ResourceQuota")!;
/** How long a charged quota must stay unchanged before a recompute may lower it. */
const QUIET_MS = 2000;
/** Upstream's --resource-quota-sync-period is 5 min; a full recompute here is cheap. */
const RESYNC_MS = 60_000;

/** Kinds the legacy and compute resource names are counted from. */
const WATCHED = ["pods", "services", "configmaps", "secrets", "persistentvolumeclaims", "replicationcontrollers"];

export class ResourceQuotaController extends Controller {
  private quotas: Informer;
  /** When each quota's status.used last changed by someone else's write (an admission charge). */
  private chargedAt = new Map<string, number>();
  private resync: ReturnType<typeof setInterval> | undefined;

  constructor(rt: ControllerContext) {
    super(rt, "resourcequota", 2);
    this.quotas = this.informer("resourcequotas");
    this.quotas.addHandler({
      add: (q) => this.queue.add(objKey(q)),
      update: (q, old) => {
        if (JSON.stringify(q.status?.used) !== JSON.stringify(old?.status?.used)) this.chargedAt.set(objKey(q), this.now());
        if (JSON.stringify(q.spec) !== JSON.stringify(old?.spec) || !q.status?.used) this.queue.add(objKey(q));
      },
      delete: (q) => this.chargedAt.delete(objKey(q)),
    });
    const pods = this.informer("pods");
    pods.addHandler({
      update: (p, old) => {
        if (podCounts(old) !== podCounts(p) || JSON.stringify(old?.spec?.containers?.map((c: any) => c.resources)) !== JSON.stringify(p.spec?.containers?.map((c: any) => c.resources)))
          this.namespaceChanged(p.metadata.namespace);
      },
      delete: (p) => this.namespaceChanged(p.metadata.namespace),
    });
    for (const res of WATCHED.slice(1)) {
      this.informer(res).addHandler({
        update: (o, old) => {
          if (JSON.stringify(o.spec) !== JSON.stringify(old?.spec)) this.namespaceChanged(o.metadata.namespace);
        },
        delete: (o) => this.namespaceChanged(o.metadata.namespace),
      });
    }
  }

  protected override onSynced(): void {
    for (const q of this.quotas.list()) this.queue.add(objKey(q));
    this.resync = setInterval(() => {
      for (const q of this.quotas.list()) this.queue.add(objKey(q));
    }, RESYNC_MS);
    this.resync.unref?.();
  }

  override stop(): void {
    if (this.resync) clearInterval(this.resync);
    super.stop();
  }

  private namespaceChanged(ns: string | undefined): void {
    if (!ns) return;
    for (const q of this.quotas.list()) if (q.metadata.namespace === ns) this.queue.add(objKey(q));
  }

  async reconcile(key: string): Promise<void> {
    const q = this.quotas.get(key);
    if (!q) return;
    const { ns, name } = splitKey(key);
    const hard = hardOf({ spec: q.spec });
    const used = this.usage(q, ns, Object.keys(hard));
    let wait = 0;
    await this.api.update(QUOTA, ns, name, (cur) => {
      const since = this.now() - (this.chargedAt.get(key) ?? 0);
      const current = amounts(cur.status?.used);
      const lowers = [...used].some(([k, v]) => current.has(k) && v < current.get(k)!);
      const next: Record<string, string> = {};
      for (const [k, v] of used) next[k] = nanosStr(v, isBinary(k));
      if (lowers && since < QUIET_MS) {
        // Keep what admission charged for now; only resources nobody counted yet are filled in.
        wait = QUIET_MS - since;
        for (const [k, v] of Object.entries(cur.status?.used ?? {})) if (k in next) next[k] = v as string;
      }
      return { ...cur, status: { hard: { ...(cur.spec?.hard ?? {}) }, used: next } };
    }, { status: true });
    if (wait > 0) this.queue.addAfter(key, wait + 50);
  }

  /** The namespace's usage of each of `names` against quota q (its scopes applied). */
  private usage(q: any, ns: string, names: string[]): Amounts {
    const kinds = new Set<string>();
    for (const n of names) {
      if (n.startsWith("count/")) {
        const rest = n.slice("count/".length);
        const dot = rest.indexOf(".");
        kinds.add(dot < 0 ? `|${rest}` : `${rest.slice(dot + 1)}|${rest.slice(0, dot)}`);
      } else if (n.includes(".storageclass.storage.k8s.io/") || n === "requests.storage" || n === "persistentvolumeclaims") kinds.add("|persistentvolumeclaims");
      else if (n.startsWith("services")) kinds.add("|services");
      else if (WATCHED.includes(n) || n === "resourcequotas") kinds.add(`|${n}`);
      else kinds.add("|pods"); // cpu, memory, requests.*, limits.*, ephemeral-storage, hugepages
    }
    const total: Amounts = new Map();
    const now = this.now();
    for (const k of kinds) {
      const [group, plural] = k.split("|") as [string, string];
      let items: any[];
      try {
        items = this.rt.store.list(resKeyOf(group, plural), ns).items;
      } catch {
        items = []; // a resource this server does not serve counts zero
      }
      for (const o of items) if (quotaMatches(q, group, plural, o)) addInto(total, usageOf(group, plural, o, now));
    }
    const out: Amounts = new Map();
    for (const n of names) out.set(n, total.get(n) ?? 0n);
    return out;
  }
}
