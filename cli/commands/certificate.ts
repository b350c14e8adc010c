// `skiff certificate check|rotate` (K3s: `k3s certificate check|rotate`): the expiry of every
// certificate of a server's data dir, and re-issuing the serving and client certificates from the
// cluster CA. A running server is told to serve the new certificate (SIGHUP): no restart, so pods
// and open watches carry on. The CA itself is not rotated here.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { listCertificates, leafNames, rotateLeaves, tlsDirOf, type CertInfo } from "../../server/tls/certs";
import { findOurProcesses } from "../host/processes";
import { parseDataDir } from "./killall";

const USAGE = `Usage:
  skiff certificate check  [--data-dir DIR]                 expiry of every certificate
  skiff certificate rotate [--data-dir DIR] [--service N,…]  re-issue serving and client certificates

Certificates are renewed automatically 90 days before they expire (the server checks hourly).
rotate re-issues them now (all leaf certificates, or the named ones: serving, admin, raft-peer)
from the cluster CA and makes a running server serve the new one without a restart.`;

const DAY = 86_400_000;

function status(c: CertInfo, now: number): string {
  if (now < c.notBefore.getTime()) return "NOT YET VALID (clock behind?)";
  if (now >= c.notAfter.getTime()) return "EXPIRED";
  if (!c.isCa && c.notAfter.getTime() - now < 90 * DAY) return "RENEWING (< 90 days)";
  return "OK";
}

export function formatCertificates(certs: CertInfo[], now = Date.now()): string {
  const rows = certs.map((c) => [c.name, c.isCa ? "CA" : "leaf", c.subject, c.notAfter.toISOString().replace(/\.\d{3}Z$/, "Z"), String(Math.floor((c.notAfter.getTime() - now) / DAY)), status(c, now)]);
  const head = ["NAME", "KIND", "SUBJECT", "EXPIRES", "DAYS", "STATUS"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join("  ")).join("\n");
}

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === "-h" || sub === "--help") {
    console.log(USAGE);
    return sub ? 0 : 1;
  }
  const p = parseDataDir(rest, USAGE, ["--service="]);
  if (typeof p === "number") return p;
  const dir = tlsDirOf(p.dataDir);
  if (!existsSync(join(dir, "ca.crt"))) {
    console.error(`error: no certificates in ${dir}: run this on a server (agents authenticate with tokens, not certificates), or pass --data-dir`);
    return 1;
  }
  if (sub === "check") {
    const certs = listCertificates(dir);
    console.log(formatCertificates(certs));
    const now = Date.now();
    const bad = certs.filter((c) => now >= c.notAfter.getTime() || now < c.notBefore.getTime());
    if (bad.length) console.error(`\n${bad.length} certificate(s) not valid now: ${bad.map((c) => c.name).join(", ")} (skiff certificate rotate, or fix the clock)`);
    return bad.length ? 1 : 0;
  }
  if (sub === "rotate") {
    const all = leafNames(dir);
    const want = p.values.service ? p.values.service.split(",").map((s) => s.trim()).filter(Boolean) : all;
    const unknown = want.filter((n) => !all.includes(n));
    if (unknown.length) {
      console.error(`error: no certificate named ${unknown.join(", ")} in ${dir} (there are: ${all.join(", ")})`);
      return 1;
    }
    const done = await rotateLeaves(dir, want);
    console.log(`re-issued ${done.join(", ")} from the cluster CA`);
    const servers = findOurProcesses(p.dataDir).skiff.filter((x) => x.args.includes("server"));
    for (const s of servers) {
      process.kill(s.pid, "SIGHUP");
      console.log(`asked the running server (pid ${s.pid}) to serve the new certificate`);
    }
    if (!servers.length) console.log("no server is running on this data dir: it uses the new certificates when it starts");
    if (done.includes("raft-peer")) console.log("raft-peer is used from the next start of the server (the old one stays valid until then)");
    console.log(formatCertificates(listCertificates(dir).filter((c) => done.includes(c.name))));
    return 0;
  }
  console.error(`error: unknown subcommand "${sub}"\n${USAGE}`);
  return 1;
}
