// Client certificates presented on the TLS connection of a request, for x509 authentication
// (kube-apiserver's --client-ca-file authenticator): the listener records the peer certificate of
// each Request it hands to the app; nothing a client sends in headers can set it.
const byRequest = new WeakMap<Request, string>();

/** Record the client certificate (PEM) of a request's connection. */
export function setClientCert(req: Request, pem: string): void {
  byRequest.set(req, pem);
}

/** The client certificate (PEM) of the request's connection, if it presented one. */
export function clientCertOf(req: Request): string | undefined {
  return byRequest.get(req);
}

/** PEM from the DER a TLS socket's getPeerCertificate() gives. */
export function derToPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n");
  return `-----BEGIN CERTIFICATE-----\n${b64.trimEnd()}\n-----END CERTIFICATE-----\n`;
}
