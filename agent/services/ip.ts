// IPv4 arithmetic the node's networking needs (CIDR membership, gateway addresses).

/** 32-bit value of a dotted IPv4 address (NaN for anything else; "::ffff:a.b.c.d" accepted). */
export function ipv4Number(ip: string): number {
  const p = ip.replace(/^::ffff:/, "").split(".");
  if (p.length !== 4) return NaN;
  return p.reduce((a, o) => (/^\d{1,3}$/.test(o) && Number(o) < 256 ? a * 256 + Number(o) : NaN), 0);
}

export function ipv4String(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

/** Is ip inside cidr ("10.42.0.0/24"; a bare address is a /32)? */
export function inCidr(ip: string, cidr: string): boolean {
  const [net = "", bits = "32"] = cidr.split("/");
  const n = ipv4Number(ip);
  const b = ipv4Number(net);
  if (Number.isNaN(n) || Number.isNaN(b)) return false;
  const size = 2 ** (32 - Number(bits));
  return Math.floor(n / size) === Math.floor(b / size);
}

export const isIpv4 = (s: string) => !Number.isNaN(ipv4Number(s)) && !s.startsWith("::");
