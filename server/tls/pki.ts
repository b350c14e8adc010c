// The cluster's own PKI, K3s style: a CA made at first start, a serving certificate for the
// API, and an admin client certificate for the kubeconfig. ECDSA P-256 throughout.
// @peculiar/x509 uses tsyringe, which needs the Reflect metadata polyfill loaded first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { clockTrusted } from "../../lib/clock";

x509.cryptoProvider.set(crypto);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const YEAR = 365 * 24 * 3600 * 1000;
const DAY = 24 * 3600 * 1000;
/** Leaf certificates are renewed this long before they expire (K3s: 90 days), at start and while running. */
export const RENEW_BEFORE_MS = 90 * DAY;

export interface KeyPairPem {
  cert: string;
  key: string;
}

export interface ClusterPki {
  ca: KeyPairPem;
  serving: KeyPairPem;
  admin: KeyPairPem;
  /** SHA-256 of the CA certificate (DER), hex: what join tokens pin (K10<hash>::secret). */
  caHash: string;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0]!;
  return crypto.subtle.importKey("pkcs8", der, ALG, true, ["sign"]);
}

function serial(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex").replace(/^[89a-f]/, "1");
}

export async function makeCa(): Promise<KeyPairPem> {
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const now = new Date();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=skiff-ca@${Math.floor(now.getTime() / 1000)}`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 10 * YEAR),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString("pem"), key: await exportKeyPem(keys.privateKey) };
}

/**
 * `next` CA's certificate signed by `prev` (same subject and key as next): served after the
 * serving certificate during a CA rotation, it lets clients that trust only the previous CA
 * verify certificates the new CA issues; clients that trust the new CA stop at it.
 */
export async function crossSign(prev: KeyPairPem, next: KeyPairPem): Promise<string> {
  const prevCert = new x509.X509Certificate(prev.cert);
  const nextCert = new x509.X509Certificate(next.cert);
  const publicKey = await nextCert.publicKey.export(ALG, ["verify"]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: nextCert.subject,
    issuer: prevCert.subject,
    notBefore: nextCert.notBefore,
    // Not beyond the signer: a chain is only as valid as its shortest link.
    notAfter: new Date(Math.min(nextCert.notAfter.getTime(), prevCert.notAfter.getTime())),
    signingKey: await importKeyPem(prev.key),
    publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(prevCert, false),
    ],
  });
  return cert.toString("pem");
}

/** Issue a leaf certificate signed by the CA. */
export async function issue(
  ca: KeyPairPem,
  o: { cn: string; org?: string[]; dnsNames?: string[]; ips?: string[]; server?: boolean; client?: boolean; years?: number; /** overrides years (tests) */ days?: number },
): Promise<KeyPairPem> {
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await importKeyPem(ca.key);
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const now = new Date();
  const names: x509.JsonGeneralName[] = [...(o.dnsNames ?? []).map((v) => ({ type: "dns" as const, value: v })), ...(o.ips ?? []).map((v) => ({ type: "ip" as const, value: v }))];
  const usages: string[] = [];
  if (o.server) usages.push(x509.ExtendedKeyUsage.serverAuth);
  if (o.client) usages.push(x509.ExtendedKeyUsage.clientAuth);
  const subject = [`CN=${o.cn}`, ...(o.org ?? []).map((g) => `O=${g}`)].join(", ");
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + (o.days !== undefined ? o.days * DAY : (o.years ?? 1) * YEAR)),
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(usages, false),
      ...(names.length ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  return { cert: cert.toString("pem"), key: await exportKeyPem(keys.privateKey) };
}

export function caHashOf(caPem: string): string {
  const der = x509.PemConverter.decode(caPem)[0]!;
  return new Bun.CryptoHasher("sha256").update(new Uint8Array(der)).digest("hex");
}

function load(dir: string, name: string): KeyPairPem | undefined {
  const c = join(dir, `${name}.crt`);
  const k = join(dir, `${name}.key`);
  if (!existsSync(c) || !existsSync(k)) return undefined;
  return { cert: readFileSync(c, "utf8"), key: readFileSync(k, "utf8") };
}

/** Writes a key pair atomically (a reader never sees a certificate without its key's update). */
export function save(dir: string, name: string, kp: KeyPairPem): void {
  const write = (file: string, data: string, mode: number) => {
    const tmp = join(dir, `.${file}.tmp-${process.pid}`);
    writeFileSync(tmp, data, { mode });
    renameSync(tmp, join(dir, file));
  };
  write(`${name}.key`, kp.key, 0o600);
  write(`${name}.crt`, kp.cert, 0o644);
}

/** True when the certificate expires within RENEW_BEFORE_MS (or is already expired). */
export function renewalDue(certPem: string, now = Date.now()): boolean {
  return new x509.X509Certificate(certPem).notAfter.getTime() - now < RENEW_BEFORE_MS;
}

/**
 * A new certificate like `old` (subject, names, usages and lifetime) with a new key and serial,
 * signed by `ca`: what rotation and renewal issue.
 */
export async function reissue(ca: KeyPairPem, oldPem: string): Promise<KeyPairPem> {
  const old = new x509.X509Certificate(oldPem);
  const cn = old.subjectName.getField("CN")[0] ?? "";
  const org = old.subjectName.getField("O");
  const san = old.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON() ?? [];
  const eku = old.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [];
  const lifetime = old.notAfter.getTime() - old.notBefore.getTime();
  return issue(ca, {
    cn,
    org,
    dnsNames: san.filter((n) => n.type === "dns").map((n) => n.value),
    ips: san.filter((n) => n.type === "ip").map((n) => n.value),
    server: eku.includes(x509.ExtendedKeyUsage.serverAuth),
    client: eku.includes(x509.ExtendedKeyUsage.clientAuth),
    years: Math.max(1, Math.round(lifetime / YEAR)),
  });
}

/**
 * Load the PKI from <dir>, creating what is missing. The serving certificate is re-issued when
 * the requested names are not all in it (a new --tls-san or bind address).
 */
export async function ensurePki(dir: string, o: { dnsNames: string[]; ips: string[] }): Promise<ClusterPki> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let ca = load(dir, "ca");
  if (!ca) {
    ca = await makeCa();
    save(dir, "ca", ca);
  }
  let serving = load(dir, "serving");
  if (!serving || !coversNames(serving.cert, o)) {
    serving = await issue(ca, { cn: "skiff-apiserver", dnsNames: o.dnsNames, ips: o.ips, server: true, years: 1 });
    save(dir, "serving", serving);
  }
  let admin = load(dir, "admin");
  if (!admin || (renewalDue(admin.cert) && clockTrusted())) {
    admin = await issue(ca, { cn: "system:admin", org: ["system:masters"], client: true, years: 1 });
    save(dir, "admin", admin);
  }
  return { ca, serving, admin, caHash: caHashOf(ca.cert) };
}

function coversNames(certPem: string, o: { dnsNames: string[]; ips: string[] }): boolean {
  const cert = new x509.X509Certificate(certPem);
  if (renewalDue(certPem) && clockTrusted()) return false;
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const have = new Set((san?.names.toJSON() ?? []).map((n) => `${n.type}:${n.value}`));
  return o.dnsNames.every((d) => have.has(`dns:${d}`)) && o.ips.every((i) => have.has(`ip:${i}`));
}

/** Verify that a client certificate (PEM) was issued by our CA; returns its subject CN and O. */
export async function verifyClientCert(caPem: string, certPem: string): Promise<{ user: string; groups: string[] } | undefined> {
  try {
    const cert = new x509.X509Certificate(certPem);
    const ca = new x509.X509Certificate(caPem);
    if (!(await cert.verify({ publicKey: await ca.publicKey.export(), date: new Date() }))) return undefined;
    const name = cert.subjectName;
    return { user: name.getField("CN")[0] ?? "", groups: name.getField("O") };
  } catch {
    return undefined;
  }
}
