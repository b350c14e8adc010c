// Services and Ingresses with their addresses.
import { age } from "../format";
import { R, objectHref } from "../resources";
import { namespace, now, useAtom } from "../state";
import { useCollection } from "../store";
import { byName, Section, Table, type Col } from "../ui";

const lbAddrs = (o: any) => (o.status?.loadBalancer?.ingress ?? []).map((i: any) => i.ip ?? i.hostname).filter(Boolean) as string[];

function servicePorts(s: any): string {
  return (s.spec?.ports ?? []).map((p: any) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol ?? "TCP"}`).join(", ") || "-";
}

function ingressHosts(i: any): string {
  return (i.spec?.rules ?? []).map((r: any) => r.host ?? "*").join(", ") || "*";
}

function ingressBackends(i: any): string {
  const out: string[] = [];
  for (const r of i.spec?.rules ?? [])
    for (const p of r.http?.paths ?? []) out.push(`${p.path ?? "/"} → ${p.backend?.service?.name ?? "?"}:${p.backend?.service?.port?.number ?? p.backend?.service?.port?.name ?? ""}`);
  return out.join(", ") || "-";
}

export function Network() {
  const ns = useAtom(namespace);
  const t = useAtom(now);
  const svcs = useCollection(R.services, ns);
  const ings = useCollection(R.ingresses, ns);
  const nsCol: Col<any>[] = ns ? [] : [{ h: "Namespace", cls: "hide-sm", cell: (o) => o.metadata.namespace }];
  const svcCols: Col<any>[] = [
    { h: "Name", cell: (o) => <a href={objectHref(R.services, o.metadata.namespace, o.metadata.name)}>{o.metadata.name}</a> },
    ...nsCol,
    { h: "Type", cell: (o) => o.spec?.type ?? "ClusterIP" },
    { h: "Cluster IP", cls: "mono", cell: (o) => o.spec?.clusterIP ?? "-" },
    { h: "External", cls: "mono", cell: (o) => [...lbAddrs(o), ...(o.spec?.externalIPs ?? [])].join(", ") || (o.spec?.type === "LoadBalancer" ? "<pending>" : "-") },
    { h: "Ports", cls: "mono", cell: servicePorts },
    { h: "Age", cls: "num", cell: (o) => age(o.metadata.creationTimestamp, t) },
  ];
  const ingCols: Col<any>[] = [
    { h: "Name", cell: (o) => <a href={objectHref(R.ingresses, o.metadata.namespace, o.metadata.name)}>{o.metadata.name}</a> },
    ...nsCol,
    { h: "Class", cell: (o) => o.spec?.ingressClassName ?? "-" },
    { h: "Hosts", cls: "mono", cell: ingressHosts },
    { h: "Address", cls: "mono", cell: (o) => lbAddrs(o).join(", ") || "-" },
    { h: "Backends", cls: "mono hide-sm", cell: ingressBackends },
    { h: "Age", cls: "num", cell: (o) => age(o.metadata.creationTimestamp, t) },
  ];
  return (
    <>
      <Section title="Services" id="svc-h">
        <Table label="Services" cols={svcCols} rows={[...svcs.items].sort(byName)} rowKey={(o) => o.metadata.uid} state={svcs} empty="No Services" />
      </Section>
      <Section title="Ingresses" id="ing-h">
        <Table label="Ingresses" cols={ingCols} rows={[...ings.items].sort(byName)} rowKey={(o) => o.metadata.uid} state={ings} empty="No Ingresses" />
      </Section>
    </>
  );
}
