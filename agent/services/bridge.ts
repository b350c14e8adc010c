// The pods' bridge, made before the first pod so the cluster DNS can listen on its gateway
// address at start (the CNI bridge plugin adopts an existing bridge and address).

/** The first address of a CIDR: "10.42.0.0/24" → "10.42.0.1" (the CNI bridge gateway). */
export function gatewayOf(cidr: string): string {
  const [ip = "", bits = "32"] = cidr.split("/");
  const n = ip.split(".").reduce((a, o) => a * 256 + Number(o), 0);
  const mask = 2 ** 32 - 2 ** (32 - Number(bits));
  const gw = ((n & mask) >>> 0) + 1;
  return [24, 16, 8, 0].map((s) => Math.floor(gw / 2 ** s) % 256).join(".");
}

function ip(args: string[]): { ok: boolean; err: string } {
  const r = Bun.spawnSync(["ip", ...args], { stdout: "ignore", stderr: "pipe" });
  return { ok: r.exitCode === 0, err: r.stderr.toString().trim() };
}

export function ensureBridge(name: string, gateway: string, prefix: number): void {
  const exists = ip(["link", "show", name]).ok;
  if (!exists) {
    const r = ip(["link", "add", name, "type", "bridge"]);
    if (!r.ok && !/exists/i.test(r.err)) throw new Error(`ip link add ${name}: ${r.err}`);
  }
  const a = ip(["addr", "add", `${gateway}/${prefix}`, "dev", name]);
  if (!a.ok && !/exists/i.test(a.err)) throw new Error(`ip addr add ${gateway}/${prefix} dev ${name}: ${a.err}`);
  const u = ip(["link", "set", name, "up"]);
  if (!u.ok) throw new Error(`ip link set ${name} up: ${u.err}`);
}
