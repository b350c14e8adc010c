// Certificate renewal and rotation (server/tls/certs.ts): leaves due within 90 days are re-issued
// with the same subject, names and usages; rotation re-issues every leaf and never the CA.
import "reflect-metadata";
import { afterAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatCertificates } from "../../cli/commands/certificate.ts";
import { leafNames, listCertificates, renewDueLeaves, rotateLeaves } from "../../server/tls/certs.ts";
import { ensurePki, issue, save, verifyClientCert } from "../../server/tls/pki.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const NAMES = { dnsNames: ["localhost", "kubernetes"], ips: ["127.0.0.1", "10.43.0.1"] };
const DAY = 86_400_000;

async function fresh() {
  const dir = mkdtempSync(join(tmpdir(), "skiff-certs-"));
  dirs.push(dir);
  return { dir, pki: await ensurePki(dir, NAMES) };
}
const cert = (dir: string, n: string) => new X509Certificate(readFileSync(join(dir, `${n}.crt`)));

describe("renewal before expiry", () => {
  test("a serving certificate 10 days from expiry is renewed, like for like; the others are left", async () => {
    const { dir, pki } = await fresh();
    save(dir, "serving", await issue(pki.ca, { cn: "skiff-apiserver", ...NAMES, server: true, days: 10 }));
    const adminBefore = readFileSync(join(dir, "admin.crt"), "utf8");
    expect(await renewDueLeaves(dir)).toEqual(["serving"]);
    const s = cert(dir, "serving");
    expect(s.validToDate.getTime() - Date.now()).toBeGreaterThan(360 * DAY);
    expect(s.subject).toBe("CN=skiff-apiserver");
    expect(s.subjectAltName).toBe("DNS:localhost, DNS:kubernetes, IP Address:127.0.0.1, IP Address:10.43.0.1");
    expect(s.keyUsage).toContain("1.3.6.1.5.5.7.3.1"); // serverAuth
    expect(s.checkIssued(new X509Certificate(pki.ca.cert))).toBe(true);
    expect(readFileSync(join(dir, "admin.crt"), "utf8")).toBe(adminBefore);
    expect(await renewDueLeaves(dir)).toEqual([]);
  });

  test("a server starting with an admin certificate near expiry renews it", async () => {
    const { dir, pki } = await fresh();
    save(dir, "admin", await issue(pki.ca, { cn: "system:admin", org: ["system:masters"], client: true, days: 30 }));
    const again = await ensurePki(dir, NAMES);
    expect(new X509Certificate(again.admin.cert).validToDate.getTime() - Date.now()).toBeGreaterThan(360 * DAY);
    expect(await verifyClientCert(again.ca.cert, again.admin.cert)).toEqual({ user: "system:admin", groups: ["system:masters"] });
  });
});

describe("rotation", () => {
  test("every leaf gets a new key and serial from the same CA; the CA stays", async () => {
    const { dir, pki } = await fresh();
    const before = new Map(listCertificates(dir).map((c) => [c.name, c.serial]));
    expect(leafNames(dir).sort()).toEqual(["admin", "serving"]);
    expect(await rotateLeaves(dir)).toEqual(leafNames(dir));
    const after = listCertificates(dir);
    for (const c of after) {
      if (c.isCa) expect(c.serial).toBe(before.get("ca")!);
      else expect(c.serial, c.name).not.toBe(before.get(c.name)!);
    }
    expect(readFileSync(join(dir, "ca.key"), "utf8")).toBe(pki.ca.key);
    expect(readFileSync(join(dir, "serving.key"), "utf8")).not.toBe(pki.serving.key);
    const table = formatCertificates(after);
    expect(table.split("\n")[0]).toMatch(/^NAME\s+KIND\s+SUBJECT\s+EXPIRES\s+DAYS\s+STATUS$/);
    expect(table).toMatch(/\nca\s+CA\s+CN=skiff-ca@\d+\s+\S+\s+36\d\d\s+OK/);
  });
});
