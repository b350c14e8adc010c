// certificates.k8s.io CSR (validation, requester identity, approval rights, signer checks,
// signing, cleaner deadlines) and the storage.k8s.io CSI kinds (validation, defaults, CSINode
// limited to the node's own by NodeRestriction), through the real registry and store.
import { afterAll, beforeAll, expect, test } from "bun:test";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findByKind } from "../../schemas/registry";
import { checked, type Registry } from "../../server/registry/registry";
import { newRegistry } from "../../server/registry/index";
import { APISERVER_USER, writeCtx } from "../../server/registry/ctx";
import { bootstrap } from "../../server/bootstrap";
import { Store } from "../../server/store/store";
import { makeCa } from "../../server/tls/pki";
import { signRequest } from "../../server/tls/csr-sign";
import { SIGNERS } from "../../server/controllers/csr-signing";
import { csrDeadline } from "../../server/controllers/csr-cleaner";
import { X509Authenticator } from "../../server/auth/x509";
import type { UserInfo } from "../../server/auth/attributes";

x509.cryptoProvider.set(crypto);
const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

let dir: string;
let store: Store;
let reg: Registry;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "skiff-csr-"));
  store = new Store({ dataDir: dir });
  reg = newRegistry(store);
  await bootstrap(reg);
});
afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const ALICE: UserInfo = { user: "alice", groups: ["dev", "system:authenticated"] };
const NODE_A: UserInfo = { user: "system:node:a", groups: ["system:nodes", "system:authenticated"] };
const create = (user: UserInfo, apiVersion: string, kind: string, ns: string | undefined, obj: any) => {
  const r = findByKind(apiVersion, kind)!;
  const ctx = writeCtx(user, "t");
  return reg.create(ctx, r, ns, checked(ctx, r, { apiVersion, kind, ...obj }));
};
const CSR = () => findByKind("certificates.k8s.io/v1", "CertificateSigningRequest")!;

async function pkcs10(name: string, san: x509.JsonGeneralName[] = []): Promise<{ pem: string; req: x509.Pkcs10CertificateRequest }> {
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const req = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys,
    signingAlgorithm: ALG,
    extensions: san.length ? [new x509.SubjectAlternativeNameExtension(san)] : [],
  });
  return { pem: req.toString("pem"), req };
}
const b64 = (s: string) => Buffer.from(s).toString("base64");

test("CSR validation: PEM request, signerName, usages, expirationSeconds, as upstream", async () => {
  const { pem } = await pkcs10("CN=alice");
  const bad = async (spec: any) => (await create(ALICE, "certificates.k8s.io/v1", "CertificateSigningRequest", undefined, { metadata: { generateName: "x-" }, spec }).catch((e) => e)).message as string;
  expect(await bad({ request: b64("not pem"), signerName: "example.com/s", usages: ["client auth"] })).toContain("spec.request: Invalid value");
  expect(await bad({ request: b64(pem), usages: ["client auth"] })).toContain("spec.signerName: Required value");
  expect(await bad({ request: b64(pem), signerName: "nodomain", usages: ["client auth"] })).toContain("spec.signerName: Invalid value");
  expect(await bad({ request: b64(pem), signerName: "example.com/s" })).toContain("spec.usages: Required value");
  expect(await bad({ request: b64(pem), signerName: "example.com/s", usages: ["flying"] })).toContain('spec.usages[0]: Unsupported value: "flying"');
  expect(await bad({ request: b64(pem), signerName: "example.com/s", usages: ["client auth"], expirationSeconds: 599 })).toContain(
    "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 seconds (10 minutes)",
  );
  expect(await bad({ request: b64(pem), signerName: "kubernetes.io/legacy-unknown", usages: ["client auth"] })).toContain("the legacy signerName is not allowed via this API version");
});

test("the requester is recorded from the writer; /approval needs approve on the signer; /status keeps Approved", async () => {
  const { pem } = await pkcs10("CN=alice");
  const made = await create(ALICE, "certificates.k8s.io/v1", "CertificateSigningRequest", undefined, {
    metadata: { name: "a1" },
    spec: { request: b64(pem), signerName: "example.com/s", usages: ["client auth"], username: "system:admin", groups: ["system:masters"] },
    status: { certificate: b64("x") },
  });
  expect(made.spec.username).toBe("alice");
  expect(made.spec.groups).toEqual(["dev", "system:authenticated"]);
  expect(made.status).toBeUndefined();
  const approve = (user: UserInfo) =>
    reg.update(writeCtx(user, "t"), CSR(), "", "a1", (o) => ({ ...o, status: { conditions: [{ type: "Approved", status: "True", reason: "R" }] } }), { sub: "approval" });
  const no = await approve(ALICE).catch((e) => e);
  expect(no.code).toBe(403);
  expect(no.message).toContain('user not permitted to approve requests with signerName "example.com/s"');
  const { obj } = await approve(APISERVER_USER);
  expect(obj.status.conditions[0]).toMatchObject({ type: "Approved", status: "True" });
  expect(obj.status.conditions[0].lastUpdateTime).toBeTruthy();
  // A /status write cannot take Approved away; a main-resource write cannot touch status.
  const { obj: s } = await reg.update(writeCtx(APISERVER_USER, "t"), CSR(), "", "a1", (o) => ({ ...o, status: { conditions: [] } }), { sub: "status" });
  expect(s.status.conditions.map((c: any) => c.type)).toEqual(["Approved"]);
  const { obj: m } = await reg.update(writeCtx(APISERVER_USER, "t"), CSR(), "", "a1", (o) => ({ ...o, metadata: { ...o.metadata, labels: { a: "b" } }, spec: { ...o.spec, signerName: "other.io/x" }, status: {} }));
  expect(m.spec.signerName).toBe("example.com/s");
  expect(m.status.conditions.map((c: any) => c.type)).toEqual(["Approved"]);
  // Setting the certificate needs sign on the signer: the admin may, a plain user not.
  const sign = await reg.update(writeCtx(ALICE, "t"), CSR(), "", "a1", (o) => ({ ...o, status: { ...o.status, certificate: b64("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n") } }), { sub: "status" }).catch((e) => e);
  expect(sign.code).toBe(403);
});

test("signer checks follow upstream per signer", async () => {
  const client = SIGNERS["kubernetes.io/kube-apiserver-client"]!;
  const kubelet = SIGNERS["kubernetes.io/kube-apiserver-client-kubelet"]!;
  const serving = SIGNERS["kubernetes.io/kubelet-serving"]!;
  const { req: plain } = await pkcs10("CN=alice, O=dev");
  expect(client(plain, ["client auth", "digital signature"])).toBe("");
  expect(client(plain, ["server auth"])).toContain("usages did not match");
  expect(kubelet(plain, ["client auth"])).toBe("organization list must only contain system:nodes");
  const { req: node } = await pkcs10("CN=system:node:a, O=system:nodes");
  expect(kubelet(node, ["client auth", "digital signature"])).toBe("");
  expect(serving(node, ["server auth"])).toBe("DNS or IP subjectAltName is required");
  const { req: nodeDns } = await pkcs10("CN=system:node:a, O=system:nodes", [{ type: "dns", value: "a.local" }]);
  expect(serving(nodeDns, ["server auth", "digital signature"])).toBe("");
  expect(kubelet(nodeDns, ["client auth"])).toBe("DNS subjectAltNames are not allowed");
  expect(SIGNERS["kubernetes.io/legacy-unknown"]).toBeUndefined();
});

test("a signed certificate honours expirationSeconds and usages and authenticates through the x509 authenticator", async () => {
  const ca = await makeCa();
  const { req } = await pkcs10("CN=alice, O=dev");
  const now = Date.now();
  const pem = await signRequest(ca, req, { usages: ["client auth", "digital signature"], expirationSeconds: 3600, now });
  const cert = new x509.X509Certificate(pem);
  expect(cert.notAfter.getTime() - now).toBeLessThanOrEqual(3600_000);
  expect(cert.notAfter.getTime() - now).toBeGreaterThan(3599_000 - 1000);
  expect(cert.getExtension(x509.ExtendedKeyUsageExtension)!.usages).toEqual([x509.ExtendedKeyUsage.clientAuth]);
  const auth = new X509Authenticator(ca.cert);
  expect(await auth.authenticate(pem)).toEqual({ user: "alice", groups: ["dev", "system:authenticated"] });
  // Another CA's certificate, a server-only certificate and an expired one do not authenticate.
  const other = await makeCa();
  expect(await auth.authenticate(await signRequest(other, req, { usages: ["client auth"] }))).toBeUndefined();
  expect(await auth.authenticate(await signRequest(ca, req, { usages: ["server auth"] }))).toBeUndefined();
  expect(await auth.authenticate(pem, cert.notAfter.getTime() + 1)).toBeUndefined();
});

test("cleaner deadlines are csrcleaner's: 1 h after approval+issue, denial or failure; 24 h pending; expired certificate at once", () => {
  const t0 = Date.parse("2026-01-01T00:00:00Z");
  const meta = { creationTimestamp: "2026-01-01T00:00:00Z" };
  expect(csrDeadline({ metadata: meta })).toBe(t0 + 24 * 3600_000);
  expect(csrDeadline({ metadata: meta, status: { conditions: [{ type: "Denied", status: "True", lastUpdateTime: "2026-01-01T01:00:00Z" }] } })).toBe(t0 + 2 * 3600_000);
  expect(csrDeadline({ metadata: meta, status: { conditions: [{ type: "Approved", status: "True", lastUpdateTime: "2026-01-01T00:30:00Z" }] } })).toBe(t0 + 24 * 3600_000);
});

test("CSI kinds: defaults, validation, and NodeRestriction limits CSINode to the node's own", async () => {
  const d = await create(APISERVER_USER, "storage.k8s.io/v1", "CSIDriver", undefined, { metadata: { name: "csi.example.com" }, spec: {} });
  expect(d.spec).toMatchObject({ attachRequired: true, podInfoOnMount: false, fsGroupPolicy: "ReadWriteOnceWithFSType", volumeLifecycleModes: ["Persistent"] });
  const badMode = await create(APISERVER_USER, "storage.k8s.io/v1", "CSIDriver", undefined, { metadata: { name: "b.example.com" }, spec: { volumeLifecycleModes: ["Forever"] } }).catch((e) => e);
  expect(badMode.message).toContain('spec.volumeLifecycleModes[0]: Unsupported value: "Forever"');
  const imm = await reg.update(writeCtx(APISERVER_USER, "t"), findByKind("storage.k8s.io/v1", "CSIDriver")!, "", "csi.example.com", (o) => ({ ...o, spec: { ...o.spec, attachRequired: false } })).catch((e) => e);
  expect(imm.message).toContain("spec.attachRequired: Invalid value: false: field is immutable");

  const va = await create(APISERVER_USER, "storage.k8s.io/v1", "VolumeAttachment", undefined, { metadata: { name: "va" }, spec: { attacher: "csi.example.com", nodeName: "a", source: {} } }).catch((e) => e);
  expect(va.message).toContain("must specify exactly one of inlineVolumeSpec and persistentVolumeName");
  const ok = await create(APISERVER_USER, "storage.k8s.io/v1", "VolumeAttachment", undefined, { metadata: { name: "va" }, spec: { attacher: "csi.example.com", nodeName: "a", source: { persistentVolumeName: "pv1" } }, status: { attached: true } });
  expect(ok.status).toBeUndefined();

  const cap = await create(APISERVER_USER, "storage.k8s.io/v1", "CSIStorageCapacity", "default", { metadata: { name: "c" }, storageClassName: "local", capacity: "-1Gi" }).catch((e) => e);
  expect(cap.message).toContain("capacity: Invalid value");
  await create(APISERVER_USER, "storage.k8s.io/v1", "CSIStorageCapacity", "default", { metadata: { name: "c" }, storageClassName: "local", capacity: "10Gi" });

  const drivers = [{ name: "csi.example.com", nodeID: "n-a", topologyKeys: ["topology.example.com/zone"] }];
  const other = await create(NODE_A, "storage.k8s.io/v1", "CSINode", undefined, { metadata: { name: "b" }, spec: { drivers } }).catch((e) => e);
  expect(other.code).toBe(403);
  expect(other.message).toContain("can only access CSINode with the same name as the requesting node");
  const own = await create(NODE_A, "storage.k8s.io/v1", "CSINode", undefined, { metadata: { name: "a" }, spec: { drivers } });
  expect(own.spec.drivers[0].nodeID).toBe("n-a");
  const dup = await create(APISERVER_USER, "storage.k8s.io/v1", "CSINode", undefined, { metadata: { name: "c" }, spec: { drivers: [...drivers, ...drivers] } }).catch((e) => e);
  expect(dup.message).toContain("spec.drivers[1].name: Duplicate value");
});
