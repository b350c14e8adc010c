// The certificates in a server's tls dir (<data-dir>/server/tls): what `skiff certificate check`
// lists, what `skiff certificate rotate` re-issues, and what the running server renews by itself
// RENEW_BEFORE_MS before they expire. The CA is never touched here: CA rotation is its own step.
import { X509Certificate } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { clockTrusted } from "../../lib/clock";

export const tlsDirOf = (dataDir: string) => join(dataDir, "server", "tls");

export interface CertInfo {
  name: string;
  file: string;
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  serial: string;
}

/** Every certificate (*.crt) in dir, CA first. */
export function listCertificates(dir: string): CertInfo[] {
  if (!existsSync(dir)) return [];
  const out: CertInfo[] = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".crt") && !f.startsWith("."))) {
    const c = new X509Certificate(readFileSync(join(dir, f)));
    out.push({
      name: f.slice(0, -4),
      file: join(dir, f),
      subject: c.subject.replace(/\n/g, ", "),
      issuer: c.issuer.replace(/\n/g, ", "),
      notBefore: c.validFromDate,
      notAfter: c.validToDate,
      isCa: c.ca,
      serial: c.serialNumber,
    });
  }
  return out.sort((a, b) => Number(b.isCa) - Number(a.isCa) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The previous CA's cross-signature of the current one, left by rotateCa (served in the chain). */
export const CROSS_CA = "ca-cross.crt";

/** What the API serves: the serving certificate, then the cross-signed CA while there is one. */
export function servingChain(dir: string, leafPem: string): string {
  const cross = join(dir, CROSS_CA);
  return existsSync(cross) ? `${leafPem.trimEnd()}\n${readFileSync(cross, "utf8")}` : leafPem;
}

/** Leaf certificates with a key beside them, signed by the CA in dir: what rotation re-issues. */
export function leafNames(dir: string): string[] {
  return listCertificates(dir)
    .filter((c) => !c.isCa && existsSync(join(dir, `${c.name}.key`)))
    .map((c) => c.name);
}

async function pki() {
  // @peculiar/x509 needs the Reflect polyfill first; only loaded when something is issued.
  await import("reflect-metadata");
  return import("./pki");
}

/** Re-issues the named leaves (default: all) from the CA in dir; returns the names re-issued. */
export async function rotateLeaves(dir: string, names = leafNames(dir)): Promise<string[]> {
  if (!clockTrusted()) throw new Error("the clock is behind the last known time: certificates issued now would be dated wrong; set the time first");
  const { reissue, save } = await pki();
  const ca = { cert: readFileSync(join(dir, "ca.crt"), "utf8"), key: readFileSync(join(dir, "ca.key"), "utf8") };
  const done: string[] = [];
  for (const n of names) {
    const kp = await reissue(ca, readFileSync(join(dir, `${n}.crt`), "utf8"));
    save(dir, n, kp);
    done.push(n);
  }
  return done;
}

/** Re-issues the leaves that expire within RENEW_BEFORE_MS (nothing while the clock is untrusted). */
export async function renewDueLeaves(dir: string, now = Date.now()): Promise<string[]> {
  if (!clockTrusted(now)) return [];
  const { RENEW_BEFORE_MS } = await pki();
  const due = listCertificates(dir)
    .filter((c) => !c.isCa && existsSync(join(dir, `${c.name}.key`)) && c.notAfter.getTime() - now < RENEW_BEFORE_MS)
    .map((c) => c.name);
  return due.length ? rotateLeaves(dir, due) : [];
}

/**
 * CA rotation (its own explicit step): a new CA replaces the old one, which signs it once more
 * (ca-cross.crt) so that clients still holding the old CA (agents' credentials, copied
 * kubeconfigs) verify the new chain; every leaf is re-issued by the new CA. The old CA's
 * certificate stays as ca-previous.crt, its key is removed. Returns the new CA's certificate.
 */
export async function rotateCa(dir: string): Promise<string> {
  if (!clockTrusted()) throw new Error("the clock is behind the last known time: set the time before making a CA");
  const { makeCa, crossSign, save } = await pki();
  const prev = { cert: readFileSync(join(dir, "ca.crt"), "utf8"), key: readFileSync(join(dir, "ca.key"), "utf8") };
  const leaves = leafNames(dir);
  const next = await makeCa();
  const cross = await crossSign(prev, next);
  const write = (name: string, data: string, mode: number) => {
    const tmp = join(dir, `.${name}.tmp-${process.pid}`);
    writeFileSync(tmp, data, { mode });
    renameSync(tmp, join(dir, name));
  };
  write("ca-previous.crt", prev.cert, 0o644);
  write(CROSS_CA, cross, 0o644);
  save(dir, "ca", next);
  rmSync(join(dir, "ca-previous.key"), { force: true });
  await rotateLeaves(dir, leaves);
  return next.cert;
}
