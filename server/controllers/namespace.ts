// Namespace lifecycle: a namespace being deleted has everything in it deleted, then its
// "kubernetes" finalizer removed so it goes away itself.
import { registry as kinds } from "../../schemas/registry";
import { resKeyOf } from "../store/commands";
import type { Store } from "../store/store";
import { ApiError } from "../errors";
import { controllerUser, writeCtx, type WriteCtx } from "../registry/ctx";
import type { Registry } from "../registry/registry";
import { WorkQueue } from "./queue";

export class NamespaceController {
  private queue: WorkQueue;
  private unsubscribe: () => void;
  private namespaced = kinds.filter((r) => r.namespaced && (!r.verbs || r.verbs.includes("list")));

  private readonly store: Store;

  constructor(private readonly registry: Registry) {
    const store = (this.store = registry.store);
    this.queue = new WorkQueue((ns) => this.process(ns), 2, (k, e) => console.error(`namespace controller: ${k}: ${(e as Error).message}`));
    this.unsubscribe = store.onApplied((events) => {
      for (const e of events) {
        if (e.res === "namespaces" && e.type !== "DELETED" && e.obj?.metadata?.deletionTimestamp) this.queue.add(e.name);
        else if (e.type === "DELETED" && e.ns && this.terminating(e.ns)) this.queue.add(e.ns);
      }
    });
    for (const ns of store.list("namespaces", undefined).items) if (ns.metadata?.deletionTimestamp) this.queue.add(ns.metadata.name);
    this.queue.run();
  }

  private terminating(ns: string): boolean {
    return !!this.store.get("namespaces", "", ns)?.obj?.metadata?.deletionTimestamp;
  }

  private ctx(): WriteCtx {
    return writeCtx(controllerUser("namespace-controller"), "skiff-namespace-controller");
  }

  private async process(name: string): Promise<void> {
    const ns = this.store.get("namespaces", "", name)?.obj;
    if (!ns?.metadata?.deletionTimestamp) return;
    let remaining = 0;
    for (const r of this.namespaced) {
      const items = this.store.list(resKeyOf(r.group, r.plural), name).items;
      remaining += items.length;
      for (const o of items) {
        if (o.metadata?.deletionTimestamp) continue;
        try {
          await this.registry.delete(this.ctx(), r, name, o.metadata.name, { propagationPolicy: "Background" });
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 404)) throw e;
        }
      }
    }
    if (remaining > 0) {
      // Objects with finalizers or graceful pods take a while; check again.
      setTimeout(() => this.queue.add(name), 1000).unref?.();
      return;
    }
    const r = kinds.find((x) => x.group === "" && x.plural === "namespaces")!;
    try {
      await this.registry.update(this.ctx(), r, "", name, (o) => {
        o.spec = { ...(o.spec ?? {}), finalizers: (o.spec?.finalizers ?? []).filter((f: string) => f !== "kubernetes") };
        if (!o.spec.finalizers.length) delete o.spec.finalizers;
        return o;
      }, { sub: "finalize" });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
  }

  stop(): void {
    this.unsubscribe();
    this.queue.stop();
  }
}
