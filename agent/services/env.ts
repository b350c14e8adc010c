// Service environment variables, as kubelet sets them (envvars.FromServices): for every Service
// with a ClusterIP in the pod's namespace (enableServiceLinks, default true), and always for
// `default/kubernetes`: NAME_SERVICE_HOST, NAME_SERVICE_PORT[_PORTNAME], and Docker link
// variables NAME_PORT, NAME_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR].

const envName = (s: string) => s.toUpperCase().replace(/-/g, "_");

export function serviceEnvVars(services: Iterable<any>, ns: string, enableServiceLinks = true): Record<string, string> {
  const chosen = new Map<string, any>();
  for (const s of services) {
    const ip = s?.spec?.clusterIP;
    if (!ip || ip === "None") continue;
    const name = s.metadata.name;
    if (s.metadata.namespace === "default" && name === "kubernetes") {
      if (!chosen.has(name)) chosen.set(name, s);
    } else if (s.metadata.namespace === ns && enableServiceLinks) chosen.set(name, s);
  }
  const out: Record<string, string> = {};
  for (const s of chosen.values()) {
    const prefix = envName(s.metadata.name);
    const ip: string = s.spec.clusterIP;
    const ports: any[] = s.spec.ports ?? [];
    out[`${prefix}_SERVICE_HOST`] = ip;
    if (!ports.length) continue;
    out[`${prefix}_SERVICE_PORT`] = String(ports[0].port);
    for (const p of ports) if (p.name) out[`${prefix}_SERVICE_PORT_${envName(p.name)}`] = String(p.port);
    const hostPort = `${ip.includes(":") ? `[${ip}]` : ip}:${ports[0].port}`;
    out[`${prefix}_PORT`] = `${(ports[0].protocol ?? "TCP").toLowerCase()}://${hostPort}`;
    for (const p of ports) {
      const proto = (p.protocol ?? "TCP").toUpperCase();
      const pp = `${prefix}_PORT_${p.port}_${proto}`;
      out[pp] = `${proto.toLowerCase()}://${ip.includes(":") ? `[${ip}]` : ip}:${p.port}`;
      out[`${pp}_PROTO`] = proto.toLowerCase();
      out[`${pp}_PORT`] = String(p.port);
      out[`${pp}_ADDR`] = ip;
    }
  }
  return out;
}
