// Namespaces (upstream registry/core/namespace): names are DNS labels; spec.finalizers change
// only through namespaces/finalize; deletion always marks the namespace Terminating so the
// namespace controller can empty it first.
import { findByKind } from "../../../schemas/registry";
import type { WriteCtx } from "../ctx";
import type { Registry } from "../registry";
import type { Strategy } from "../strategy";

export const namespaceStrategy: Strategy = {
  nameValidation: "label",
  prepareForUpdate(_ctx, ns, old, sub) {
    if (sub === "finalize") return;
    ns.spec = { ...(ns.spec ?? {}) };
    if (old.spec?.finalizers) ns.spec.finalizers = old.spec.finalizers;
    else delete ns.spec.finalizers;
  },
  markOnDelete(ns) {
    ns.status = { ...(ns.status ?? {}), phase: "Terminating" };
  },
};

/** namespaces/finalize: replace spec.finalizers (the namespace controller removes "kubernetes"). */
export async function finalizeNamespace(reg: Registry, ctx: WriteCtx, name: string, finalizers: string[]): Promise<any> {
  const { obj } = await reg.update(
    ctx,
    findByKind("v1", "Namespace")!,
    "",
    name,
    (cur) => {
      cur.spec = { ...(cur.spec ?? {}), finalizers };
      if (!finalizers.length) delete cur.spec.finalizers;
      return cur;
    },
    { sub: "finalize" },
  );
  return obj;
}
