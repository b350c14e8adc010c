// x509 client-certificate authentication (kube-apiserver's --client-ca-file): a certificate
// signed by the cluster CA, valid now and issued for client auth, authenticates as its subject
// (CN the user, each O a group), e.g. one the CSR signer issued for
// kubernetes.io/kube-apiserver-client. RBAC then decides what that user may do.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { Identity } from "./authn";

x509.cryptoProvider.set(crypto);

const CACHE_MAX = 1000;
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

export class X509Authenticator {
  private ca: x509.X509Certificate | undefined;
  private caKey?: Promise<CryptoKey>;
  /** Verified certificates (PEM → identity and expiry): a verification is a signature check. */
  private cache = new Map<string, { id: Identity | undefined; until: number }>();

  constructor(caPem: string) {
    try {
      this.ca = new x509.X509Certificate(caPem);
    } catch {
      // No usable CA (tests building the app without one): no certificate authenticates.
      this.ca = undefined;
    }
  }

  async authenticate(pem: string | undefined, now = Date.now()): Promise<Identity | undefined> {
    if (!pem || !this.ca) return undefined;
    const hit = this.cache.get(pem);
    if (hit && now < hit.until) return hit.id;
    let id: Identity | undefined;
    let until = now + 60_000;
    try {
      const cert = new x509.X509Certificate(pem);
      until = Math.min(until, cert.notAfter.getTime());
      const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
      const valid =
        cert.notBefore.getTime() <= now &&
        now <= cert.notAfter.getTime() &&
        (!eku || eku.usages.map(String).some((u) => u === CLIENT_AUTH || u === "2.5.29.37.0")) &&
        (await cert.verify({ publicKey: await (this.caKey ??= this.ca!.publicKey.export()), signatureOnly: true }));
      const user = cert.subjectName.getField("CN")[0] ?? "";
      if (valid && user) id = { user, groups: [...cert.subjectName.getField("O"), "system:authenticated"] };
    } catch {
      id = undefined;
    }
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(pem, { id, until });
    return id;
  }
}
