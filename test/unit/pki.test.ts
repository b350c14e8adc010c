import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensurePki, issue, verifyClientCert } from "../../server/tls/pki";

test("PKI is created once, reused, and signs verifiable client certificates", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-pki-"));
  try {
    const a = await ensurePki(dir, { dnsNames: ["localhost"], ips: ["127.0.0.1"] });
    const b = await ensurePki(dir, { dnsNames: ["localhost"], ips: ["127.0.0.1"] });
    expect(b.ca.cert).toBe(a.ca.cert);
    expect(b.serving.cert).toBe(a.serving.cert);
    expect(a.caHash).toMatch(/^[0-9a-f]{64}$/);
    // A new SAN re-issues the serving certificate but keeps the CA.
    const c = await ensurePki(dir, { dnsNames: ["localhost", "skiff.example"], ips: ["127.0.0.1"] });
    expect(c.ca.cert).toBe(a.ca.cert);
    expect(c.serving.cert).not.toBe(a.serving.cert);
    expect(await verifyClientCert(a.ca.cert, a.admin.cert)).toEqual({ user: "system:admin", groups: ["system:masters"] });
    const other = await ensurePki(join(dir, "other"), { dnsNames: [], ips: [] });
    expect(await verifyClientCert(a.ca.cert, other.admin.cert)).toBeUndefined();
    const node = await issue(a.ca, { cn: "system:node:n1", org: ["system:nodes"], client: true });
    expect((await verifyClientCert(a.ca.cert, node.cert))?.user).toBe("system:node:n1");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
