// certificates.k8s.io/v1 CertificateSigningRequest: a request for a certificate from a named
// signer, approved or denied through the /approval subresource and signed by the signer
// controller (server/controllers/csr-signing.ts). Field numbers follow
// k8s.io/api/certificates/v1/generated.proto; validation follows
// pkg/apis/certificates/validation (messages included).
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { F, atomicList, bytes, int32, keyedList, list, map, obj, str, time } from "../dsl";
import type { FieldError, ResourceDef } from "../registry";
import { duplicate, invalid, notSupported, qualifiedNameErrors, required } from "../validation";
import { metaErrors } from "./apps";
import { typeMetaFields } from "./meta";

export const LEGACY_UNKNOWN_SIGNER = "kubernetes.io/legacy-unknown";

/** Upstream's KeyUsage values (certificates/v1 types.go). */
export const KEY_USAGES = [
  "signing",
  "digital signature",
  "content commitment",
  "key encipherment",
  "key agreement",
  "data encipherment",
  "cert sign",
  "crl sign",
  "encipher only",
  "decipher only",
  "any",
  "server auth",
  "client auth",
  "code signing",
  "email protection",
  "s/mime",
  "ipsec end system",
  "ipsec tunnel",
  "ipsec user",
  "timestamping",
  "ocsp signing",
  "microsoft sgc",
  "netscape sgc",
] as const;

export const CertificateSigningRequestCondition = obj("io.k8s.api.certificates.v1.CertificateSigningRequestCondition", () => ({
  type: F(str, 1, { required: true }),
  status: F(str, 6, { required: true }),
  reason: F(str, 2),
  message: F(str, 3),
  lastUpdateTime: F(time, 4),
  lastTransitionTime: F(time, 5),
}));

export const CertificateSigningRequestSpec = obj("io.k8s.api.certificates.v1.CertificateSigningRequestSpec", () => ({
  request: F(bytes, 1, { required: true }),
  signerName: F(str, 7, { required: true }),
  expirationSeconds: F(int32, 8),
  usages: F(atomicList(str), 5),
  username: F(str, 2),
  uid: F(str, 3),
  groups: F(atomicList(str), 4),
  extra: F(map(list(str)), 6),
}));

export const CertificateSigningRequestStatus = obj("io.k8s.api.certificates.v1.CertificateSigningRequestStatus", () => ({
  conditions: F(keyedList(CertificateSigningRequestCondition, "type"), 1),
  certificate: F(bytes, 2),
}));

export const CertificateSigningRequest = obj("io.k8s.api.certificates.v1.CertificateSigningRequest", () => ({
  ...typeMetaFields(),
  spec: F(CertificateSigningRequestSpec, 2, { required: true }),
  status: F(CertificateSigningRequestStatus, 3),
}));

const b64 = (v: unknown): Uint8Array | undefined => {
  if (typeof v !== "string") return undefined;
  try {
    return new Uint8Array(Buffer.from(v, "base64"));
  } catch {
    return undefined;
  }
};

/** The PEM text of a bytes field (JSON base64), or "" when absent. */
export function pemText(v: unknown): string {
  const b = b64(v);
  return b ? new TextDecoder().decode(b) : "";
}

/** Parse spec.request as upstream's ParseCSR does: one PEM block of type CERTIFICATE REQUEST. */
export function parseCsr(request: unknown): x509.Pkcs10CertificateRequest {
  const text = pemText(request);
  const m = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/.exec(text);
  if (!m) throw new Error("PEM block type must be CERTIFICATE REQUEST");
  if (m[1] !== "CERTIFICATE REQUEST") throw new Error("PEM block type must be CERTIFICATE REQUEST");
  try {
    return new x509.Pkcs10CertificateRequest(m[0]);
  } catch (e) {
    throw new Error(`asn1: structure error: ${(e as Error).message}`);
  }
}

const TRUE_ONLY = new Set(["Approved", "Denied", "Failed"]);

function conditionErrors(conds: any[] | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  let approved = false;
  let denied = false;
  (conds ?? []).forEach((c: any, i: number) => {
    const p = `status.conditions[${i}]`;
    const t = String(c?.type ?? "");
    if (!t) errs.push(required(`${p}.type`));
    if (TRUE_ONLY.has(t)) {
      if (seen.has(t)) errs.push(duplicate(`${p}.type`, t));
      if (c?.status !== "True") errs.push(notSupported(`${p}.status`, c?.status ?? "", ["True"]));
    } else if (!["True", "False", "Unknown"].includes(c?.status)) errs.push(notSupported(`${p}.status`, c?.status ?? "", ["False", "True", "Unknown"]));
    seen.add(t);
    if (t === "Approved") approved = true;
    if (t === "Denied") denied = true;
  });
  if (approved && denied) errs.push(invalid("status.conditions", "Approved", "Approved and Denied conditions are mutually exclusive"));
  return errs;
}

export function validateCsr(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, false);
  const spec = o?.spec ?? {};
  if (!spec.request) errs.push(required("spec.request"));
  else if (!old) {
    try {
      parseCsr(spec.request);
    } catch (e) {
      errs.push(invalid("spec.request", "<request>", (e as Error).message));
    }
  }
  const usages: unknown[] = Array.isArray(spec.usages) ? spec.usages : [];
  if (!usages.length) errs.push(required("spec.usages"));
  const seen = new Set<string>();
  usages.forEach((u, i) => {
    if (!(KEY_USAGES as readonly unknown[]).includes(u)) errs.push(notSupported(`spec.usages[${i}]`, u, KEY_USAGES));
    else if (seen.has(u as string)) errs.push(duplicate(`spec.usages[${i}]`, u));
    seen.add(u as string);
  });
  if (!spec.signerName) errs.push(required("spec.signerName"));
  else if (spec.signerName === LEGACY_UNKNOWN_SIGNER && !old) errs.push(invalid("spec.signerName", spec.signerName, "the legacy signerName is not allowed via this API version"));
  else errs.push(...signerNameErrors(String(spec.signerName)));
  if (spec.expirationSeconds !== undefined && spec.expirationSeconds !== null && spec.expirationSeconds < 600)
    errs.push(invalid("spec.expirationSeconds", spec.expirationSeconds, "may not specify a duration less than 600 seconds (10 minutes)"));
  errs.push(...conditionErrors(o?.status?.conditions));
  // Approved, Denied and Failed are final: an update may not take one away.
  for (const c of old?.status?.conditions ?? [])
    if (TRUE_ONLY.has(c?.type) && !(o?.status?.conditions ?? []).some((n: any) => n?.type === c.type))
      errs.push({ field: "status.conditions", type: "FieldValueForbidden", message: `Forbidden: updates may not remove a condition of type ${JSON.stringify(c.type)}` });
  const cert = o?.status?.certificate;
  if (cert && cert !== old?.status?.certificate) {
    if (old?.status?.certificate) errs.push(invalid("status.certificate", "<certificate data>", "updates may not modify existing certificate content"));
    else if (!/-----BEGIN CERTIFICATE-----/.test(pemText(cert))) errs.push(invalid("status.certificate", "<certificate data>", "must contain at least one CERTIFICATE PEM block"));
  }
  return errs;
}

/** signerName: a fully qualified name, "domain/path" with a DNS-subdomain domain (upstream's ValidateSignerName). */
function signerNameErrors(name: string): FieldError[] {
  const slash = name.indexOf("/");
  if (slash < 0) return [invalid("spec.signerName", name, "must be a fully qualified domain and path of the form 'example.com/signer-name'")];
  const domain = name.slice(0, slash);
  const path = name.slice(slash + 1);
  const errs: FieldError[] = [];
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(domain) || !domain.includes("."))
    errs.push(invalid("spec.signerName", name, "the domain part must be a fully qualified DNS subdomain (e.g. 'example.com')"));
  if (!path) errs.push(invalid("spec.signerName", name, "validating path: may not be empty"));
  else if (qualifiedNameErrors(path.split("/").join("-")).length) errs.push(invalid("spec.signerName", name, "validating path: must consist of alphanumeric characters, '-', '_', '.' or '/'"));
  if (name.length > 571) errs.push(invalid("spec.signerName", name, "must be no more than 571 characters"));
  return errs;
}

export function csrCondition(o: any, type: string): any | undefined {
  return (o?.status?.conditions ?? []).find((c: any) => c?.type === type);
}

export const resources: ResourceDef[] = [
  {
    group: "certificates.k8s.io",
    version: "v1",
    kind: "CertificateSigningRequest",
    plural: "certificatesigningrequests",
    singular: "certificatesigningrequest",
    namespaced: false,
    shortNames: ["csr"],
    type: CertificateSigningRequest,
    subresources: { status: true, approval: true },
    fieldSelectors: { "spec.signerName": (o) => o?.spec?.signerName ?? "" },
    validate: validateCsr,
    noGeneration: true,
  },
];
