// Signing a PKCS#10 request with the cluster CA for the built-in kubernetes.io signers (upstream
// pkg/controller/certificates/authority): the subject and names come from the request, the key
// usages from the CSR object's spec.usages, the lifetime from expirationSeconds capped by the
// cluster's signing duration and by the CA's own expiry, backdated 5 minutes for clock skew.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { KeyPairPem } from "./pki";

x509.cryptoProvider.set(crypto);

const BACKDATE_MS = 5 * 60_000;
/** kube-controller-manager's --cluster-signing-duration default (1 year). */
export const DEFAULT_SIGNING_DURATION_MS = 365 * 24 * 3600 * 1000;

const KEY_USAGE: Record<string, number> = {
  signing: x509.KeyUsageFlags.digitalSignature,
  "digital signature": x509.KeyUsageFlags.digitalSignature,
  "content commitment": x509.KeyUsageFlags.nonRepudiation,
  "key encipherment": x509.KeyUsageFlags.keyEncipherment,
  "key agreement": x509.KeyUsageFlags.keyAgreement,
  "data encipherment": x509.KeyUsageFlags.dataEncipherment,
  "cert sign": x509.KeyUsageFlags.keyCertSign,
  "crl sign": x509.KeyUsageFlags.cRLSign,
  "encipher only": x509.KeyUsageFlags.encipherOnly,
  "decipher only": x509.KeyUsageFlags.decipherOnly,
};
const EXT_KEY_USAGE: Record<string, string> = {
  any: "2.5.29.37.0",
  "server auth": x509.ExtendedKeyUsage.serverAuth,
  "client auth": x509.ExtendedKeyUsage.clientAuth,
  "code signing": x509.ExtendedKeyUsage.codeSigning,
  "email protection": x509.ExtendedKeyUsage.emailProtection,
  "s/mime": x509.ExtendedKeyUsage.emailProtection,
  "ipsec end system": "1.3.6.1.5.5.7.3.5",
  "ipsec tunnel": "1.3.6.1.5.5.7.3.6",
  "ipsec user": "1.3.6.1.5.5.7.3.7",
  timestamping: x509.ExtendedKeyUsage.timeStamping,
  "ocsp signing": x509.ExtendedKeyUsage.ocspSigning,
  "microsoft sgc": "1.3.6.1.4.1.311.10.3.3",
  "netscape sgc": "2.16.840.1.113730.4.1",
};

async function caSigningKey(ca: KeyPairPem, cert: x509.X509Certificate): Promise<{ key: CryptoKey; alg: any }> {
  const der = x509.PemConverter.decode(ca.key)[0]!;
  const pub = cert.publicKey.algorithm as any;
  const alg = pub.name === "ECDSA" ? { name: "ECDSA", namedCurve: pub.namedCurve, hash: "SHA-256" } : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  return { key: await crypto.subtle.importKey("pkcs8", der, alg, false, ["sign"]), alg };
}

/** The subject alternative names a request asks for (its extensionRequest attribute). */
export function requestSans(req: x509.Pkcs10CertificateRequest): x509.JsonGeneralName[] {
  const ext = req.extensions.find((e) => e.type === "2.5.29.17");
  return ext ? new x509.SubjectAlternativeNameExtension(ext.rawData).names.toJSON() : [];
}

function serial(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex").replace(/^[89a-f]/, "1");
}

/**
 * The certificate (PEM) for `req`. Throws when the request's signature does not verify (a CSR
 * must prove possession of its key).
 */
export async function signRequest(
  ca: KeyPairPem,
  req: x509.Pkcs10CertificateRequest,
  o: { usages: string[]; expirationSeconds?: number; maxDurationMs?: number; now?: number },
): Promise<string> {
  if (!(await req.verify())) throw new Error("the request's signature does not verify with its public key");
  const caCert = new x509.X509Certificate(ca.cert);
  const { key, alg } = await caSigningKey(ca, caCert);
  const now = o.now ?? Date.now();
  let ttl = o.maxDurationMs ?? DEFAULT_SIGNING_DURATION_MS;
  if (o.expirationSeconds) ttl = Math.min(ttl, o.expirationSeconds * 1000);
  const notAfter = new Date(Math.min(now + ttl, caCert.notAfter.getTime()));
  let ku = 0;
  for (const u of o.usages) ku |= KEY_USAGE[u] ?? 0;
  const eku = [...new Set(o.usages.map((u) => EXT_KEY_USAGE[u]).filter((v): v is string => !!v))];
  const san = requestSans(req);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: req.subjectName,
    issuer: caCert.subjectName,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter,
    signingKey: key,
    publicKey: req.publicKey,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      ...(ku ? [new x509.KeyUsagesExtension(ku, true)] : []),
      ...(eku.length ? [new x509.ExtendedKeyUsageExtension(eku, false)] : []),
      ...(san.length ? [new x509.SubjectAlternativeNameExtension(san, false)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  return cert.toString("pem");
}
