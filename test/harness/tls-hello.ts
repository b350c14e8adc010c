// A TLS 1.2 ClientHello as bytes, for checking from inside a busybox pod (whose wget's TLS
// crashes against the API server) that a TLS server answers at an address: pipe it through
// `nc` and look for the server certificate's names, sent in clear by TLS 1.2.
import { createServer } from "node:net";
import { connect } from "node:tls";

export function clientHello(servername: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const srv = createServer((s) =>
      s.once("data", (d) => {
        resolve(Buffer.from(d));
        s.destroy();
        srv.close();
      }),
    );
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      connect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false, maxVersion: "TLSv1.2" }).on("error", () => {});
    });
  });
}
