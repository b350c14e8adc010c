// Names the server and the agent share for Skiff's built-in ingress and load balancer (K3s's
// Traefik and ServiceLB, done in the agent), and which Ingresses are Skiff's.

/** The IngressClass made at first start, default for Ingresses that name none. */
export const INGRESS_CLASS = "skiff";
export const INGRESS_CONTROLLER = "skiff.io/ingress";
/** On a Node: the ports its agent's ingress proxy takes ("80,443"); absent: no ingress there. */
export const INGRESS_PORTS_ANNOTATION = "ingress.skiff.io/ports";
/** LoadBalancer Services of this class, or of none, are Skiff's. */
export const LB_CLASS = "skiff.io/servicelb";
/** Node label choosing LoadBalancer nodes (K3s: svccontroller.k3s.cattle.io/enablelb): when any
 *  node has it "true", only those serve; a node with "false" never does. */
export const LB_NODE_LABEL = "svccontroller.skiff.io/enablelb";

export const DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class";

/** The names of the IngressClasses whose controller is Skiff's, and whether one is the default. */
export function ourClasses(classes: Iterable<any>): { names: Set<string>; isDefault: boolean } {
  const names = new Set<string>();
  let isDefault = false;
  for (const c of classes) {
    if (c?.spec?.controller !== INGRESS_CONTROLLER) continue;
    names.add(c.metadata.name);
    if (c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === "true") isDefault = true;
  }
  return { names, isDefault };
}

/** Is this Ingress served by Skiff? Its class (field, or the old annotation), or none and ours is the default. */
export function isOurIngress(ing: any, ours: { names: Set<string>; isDefault: boolean }): boolean {
  const cls = ing?.spec?.ingressClassName ?? ing?.metadata?.annotations?.["kubernetes.io/ingress.class"];
  return cls ? ours.names.has(cls) : ours.isDefault;
}

/** Is this a LoadBalancer Service Skiff serves? */
export function isOurLoadBalancer(svc: any): boolean {
  return svc?.spec?.type === "LoadBalancer" && (!svc.spec.loadBalancerClass || svc.spec.loadBalancerClass === LB_CLASS);
}

/** The address a node is reached by from outside: ExternalIP, else InternalIP. */
export function nodeAddress(node: any): string | undefined {
  const a: any[] = node?.status?.addresses ?? [];
  return a.find((x) => x.type === "ExternalIP")?.address ?? a.find((x) => x.type === "InternalIP")?.address;
}

export function nodeReady(node: any): boolean {
  return !!node?.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True");
}
