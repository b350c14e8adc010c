// `skiff certificate check|rotate` (K3s: `k3s certificate check|rotate`): the expiry of every
// certificate of a server's data dir, and re-issuing the serving and client certificates from the
// cluster CA. A running server is told to serve the new certificate (SIGHUP): no restart, so pods
// and open watches carry on. The CA itself is not rotated here.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { listCertificates, leafNames, rotateCa, rotateLeaves, tlsDirOf, type CertInfo } from "../../server/tls/certs";
import { UNIT_DIR } from "../host/systemd";
import { findOurProcesses } from "../host/processes";
import { parseDataDir } from "./killall";

const USAGE = `Usage:
  skiff certificate check  [--data-dir DIR]                 expiry of every certificate
  skiff certificate rotate [--data-dir DIR] [--service N,…]  re-issue serving and client certificates
  skiff certificate rotate-ca [--data-dir DIR]               replace the cluster CA (single server)

Certificates are renewed automatically 90 days before they expire (the server checks hourly).
rotate re-issues them now (all leaf certificates, or the named ones: serving, admin, raft-peer)
from the cluster CA and makes a running server serve the new one without a restart.
rotate-ca makes a new CA, cross-signed by the old one so that agents and kubeconfigs that hold
the old CA keep working, re-issues every certificate from it and changes the join token's CA hash.`;

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
    signalServers(p.dataDir);
    if (done.includes("raft-peer")) console.log("raft-peer is used from the next start of the server (the old one stays valid until then)");
    console.log(formatCertificates(listCertificates(dir).filter((c) => done.includes(c.name))));
    return 0;
  }
  if (sub === "rotate-ca") return rotateCaCommand(p.dataDir, dir);
  console.error(`error: unknown subcommand "${sub}"\n${USAGE}`);
  return 1;
}

/** SIGHUP to the data dir's running server: it serves the certificate now on disk. */
function signalServers(dataDir: string): number {
  const servers = findOurProcesses(dataDir).skiff.filter((x) => x.args.includes("server"));
  for (const s of servers) {
    process.kill(s.pid, "SIGHUP");
    console.log(`asked the running server (pid ${s.pid}) to serve the new certificate`);
  }
  if (!servers.length) console.log("no server is running on this data dir: it uses the new certificates when it starts");
  return servers.length;
}

/** How many control-plane servers the running server knows, or undefined when it cannot be asked. */
async function memberCount(dataDir: string): Promise<number | undefined> {
  try {
    const kc = parseYaml(readFileSync(join(dataDir, "kubeconfig.yaml"), "utf8")) as any;
    const cluster = kc.clusters[0].cluster;
    const r = await fetch(`${cluster.server}/v1-skiff/raft/members`, {
      headers: { authorization: `Bearer ${kc.users[0].user.token}` },
      tls: { ca: Buffer.from(cluster["certificate-authority-data"], "base64").toString() },
      signal: AbortSignal.timeout(5000),
    } as RequestInit);
    if (!r.ok) return undefined;
    return ((await r.json()) as { members: unknown[] }).members.length;
  } catch {
    return undefined;
  }
}

async function rotateCaCommand(dataDir: string, dir: string): Promise<number> {
  if (!existsSync(join(dir, "ca.key"))) {
    console.error(`error: ${dir} has no CA key: rotate the CA on a server`);
    return 1;
  }
  // Every server holds the CA key (shared at join): one server alone must not replace it.
  const members = await memberCount(dataDir);
  if (members !== undefined && members > 1) {
    console.error(`error: this cluster has ${members} control-plane servers; rotating the CA of one of them would split the cluster's trust. CA rotation works on a single-server cluster for now (agents may be many).`);
    return 1;
  }
  if (members === undefined) console.log("note: the server could not be asked for its members (not running?): do not rotate the CA of one server of a multi-server cluster");
  await import("reflect-metadata");
  const { caHashOf } = await import("../../server/tls/pki");
  const oldHash = caHashOf(readFileSync(join(dir, "ca.crt"), "utf8"));
  const newCa = await rotateCa(dir);
  const newHash = caHashOf(newCa);
  console.log(`new cluster CA (${newHash.slice(0, 12)}…) made, cross-signed by the previous one (ca-cross.crt); every certificate re-issued from it`);
  // The join token pins the CA: every copy of it we know of gets the new hash.
  const files = [join(dataDir, "server", "token"), join(dataDir, "server", "agent-token"), ...(existsSync(UNIT_DIR) ? readdirSync(UNIT_DIR).filter((f) => /^skiff.*\.env$/.test(f)).map((f) => join(UNIT_DIR, f)) : [])];
  for (const f of files) {
    if (!existsSync(f)) continue;
    const text = readFileSync(f, "utf8");
    if (!text.includes(oldHash)) continue;
    const next = text.split(oldHash).join(newHash);
    writeFileSync(f, next, { mode: 0o600 });
    // Tokens are secrets: say where they are, never print them.
    console.log(`updated the join token in ${f}`);
  }
  signalServers(dataDir);
  console.log(`
Agents and kubeconfigs that hold the previous CA keep working: the server sends the new CA signed
by the previous one with its certificate.
Restart the server now to finish the rotation (systemctl restart skiff: pods keep running). Until
it restarts it still works with the previous CA: it accepts only that CA's client certificates,
signs approved CertificateSigningRequests with it (those certificates stop working at the restart),
publishes it in each namespace's kube-root-ca.crt, and new nodes join with the previous token; the
new join tokens (in <data-dir>/server/token and agent-token) work after the restart.`);
  return 0;
}
