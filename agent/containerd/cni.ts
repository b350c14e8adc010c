// The CNI network config the agent writes for containerd's CRI plugin: one conflist with
// bridge (+ host-local IPAM from the node's pod CIDR), portmap (hostPort) and loopback is
// added by the CRI plugin itself. File name sorts first so max_conf_num = 1 picks it.

import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface CniOptions {
  confDir: string;
  /** host-local IPAM state directory. */
  ipamDir: string;
  /** The node's pod CIDR, e.g. 10.42.0.0/24. */
  podCidr: string;
  /** Linux bridge name (≤ 15 chars), default skiff0. */
  bridge?: string;
  /** Network name, default skiff. */
  name?: string;
  mtu?: number;
  /** Masquerade pod traffic leaving the node (default false: the service proxy masquerades only
   *  what leaves the cluster CIDR, so pods see each other's real addresses across nodes). */
  ipMasq?: boolean;
  /** Extra routes for pods (default: a default route via the bridge). */
  routes?: { dst: string; gw?: string }[];
}

export const CNI_CONF_FILE = "10-skiff.conflist";

export function cniConflist(o: CniOptions): object {
  const name = o.name ?? "skiff";
  const bridge = o.bridge ?? "skiff0";
  if (bridge.length > 15) throw new Error(`bridge name ${bridge} longer than 15 characters`);
  return {
    cniVersion: "1.0.0",
    name,
    plugins: [
      {
        type: "bridge",
        bridge,
        isGateway: true,
        ipMasq: o.ipMasq ?? false,
        hairpinMode: true,
        ...(o.mtu ? { mtu: o.mtu } : {}),
        ipam: {
          type: "host-local",
          dataDir: o.ipamDir,
          ranges: [[{ subnet: o.podCidr }]],
          routes: o.routes ?? [{ dst: "0.0.0.0/0" }],
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

/** Writes the conflist atomically; returns its path. */
export function writeCniConfig(o: CniOptions): string {
  mkdirSync(o.confDir, { recursive: true });
  mkdirSync(o.ipamDir, { recursive: true });
  const path = join(o.confDir, CNI_CONF_FILE);
  const tmp = path + ".tmp";
  writeFileSync(tmp, JSON.stringify(cniConflist(o), null, 2) + "\n");
  renameSync(tmp, path);
  return path;
}
