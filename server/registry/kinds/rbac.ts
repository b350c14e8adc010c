// RBAC objects (upstream registry/rbac): names are path segments ("system:node"), and nobody
// grants what they do not hold (escalation prevention, checked against the writer).
import { confirmNoEscalation } from "../../auth/escalation";
import type { Strategy } from "../strategy";

function rbacStrategy(plural: string): Strategy {
  return {
    nameValidation: "path",
    async validateWrite(ctx, obj, _old, sub) {
      if (sub === "") await confirmNoEscalation(ctx.store, ctx.user, plural, obj);
    },
  };
}

export const roleStrategy = rbacStrategy("roles");
export const clusterRoleStrategy = rbacStrategy("clusterroles");
export const roleBindingStrategy = rbacStrategy("rolebindings");
export const clusterRoleBindingStrategy = rbacStrategy("clusterrolebindings");
