// What Skiff's built-in ingress proxy and load balancer cannot do is refused, not accepted and
// silently ignored: resource backends on an Ingress of Skiff's class, and loadBalancerIP /
// loadBalancerSourceRanges on a LoadBalancer Service Skiff serves. Other classes are left to
// their own controllers. A value an older object already had is kept on update (ratcheting), so
// a status write or a label change never fails on it.
import { isOurIngress, isOurLoadBalancer, LB_CLASS, ourClasses } from "../../../lib/networking";
import { invalid } from "../../errors";
import type { FieldError } from "../../../schemas/registry";
import type { Strategy } from "../strategy";
import { generationStrategy } from "./generation";
import { serviceStrategy } from "./services";

const forbidden = (field: string, message: string): FieldError => ({ field, type: "FieldValueForbidden", message });
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Fields of an Ingress Skiff serves that its proxy cannot honour. */
export function unservableIngress(ing: any, old: any | undefined, classes: Iterable<any>): FieldError[] {
  if (!isOurIngress(ing, ourClasses(classes))) return [];
  const errs: FieldError[] = [];
  const check = (path: string, b: any, was: any) => {
    if (b?.resource && !same(b, was)) errs.push(forbidden(`${path}.resource`, "resource backends are not supported by Skiff's ingress proxy (IngressClass skiff); use a service backend"));
  };
  check("spec.defaultBackend", ing.spec?.defaultBackend, old?.spec?.defaultBackend);
  (ing.spec?.rules ?? []).forEach((r: any, i: number) =>
    (r?.http?.paths ?? []).forEach((p: any, j: number) => check(`spec.rules[${i}].http.paths[${j}].backend`, p?.backend, old?.spec?.rules?.[i]?.http?.paths?.[j]?.backend)),
  );
  return errs;
}

/** Fields of a LoadBalancer Service Skiff serves that its load balancer cannot honour. */
export function unservableLoadBalancer(svc: any, old: any | undefined): FieldError[] {
  if (!isOurLoadBalancer(svc)) return [];
  const errs: FieldError[] = [];
  const lb = `Skiff's load balancer (loadBalancerClass unset or ${LB_CLASS})`;
  if (svc.spec.loadBalancerIP && svc.spec.loadBalancerIP !== old?.spec?.loadBalancerIP)
    errs.push(forbidden("spec.loadBalancerIP", `${lb} serves on its nodes' addresses and cannot take a chosen one; remove the field (spec.externalIPs sends an address routed to a node to the Service)`));
  if (svc.spec.loadBalancerSourceRanges?.length && !same(svc.spec.loadBalancerSourceRanges, old?.spec?.loadBalancerSourceRanges))
    errs.push(forbidden("spec.loadBalancerSourceRanges", `not enforced by ${lb}; remove the field and restrict clients with a NetworkPolicy ipBlock on the backend pods`));
  return errs;
}

export const ingressStrategy: Strategy = {
  ...generationStrategy,
  validateWrite(ctx, obj, old, sub) {
    if (sub !== "") return;
    const errs = unservableIngress(obj, old, ctx.store.list("networking.k8s.io/ingressclasses", undefined).items);
    if (errs.length) throw invalid({ kind: "Ingress", group: "networking.k8s.io" }, obj.metadata?.name ?? "", errs);
  },
};

export const loadBalancerServiceStrategy: Strategy = {
  ...serviceStrategy,
  validateWrite(ctx, obj, old, sub) {
    if (sub !== "") return;
    const errs = unservableLoadBalancer(obj, old);
    if (errs.length) throw invalid({ kind: "Service", group: "" }, obj.metadata?.name ?? "", errs);
  },
};
