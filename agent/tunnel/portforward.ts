// Port-forward on the node: CRI PortForward for the pod's sandbox gives a URL on containerd's
// streaming server, which dials localhost:<port> inside the pod's network namespace (so ports
// bound to 127.0.0.1 in the pod work, as with kubelet). One SPDY connection per forwarded TCP
// connection: an error stream and a data stream; the tunnel stream carries the raw bytes, END
// is a half-close, and an error from containerd resets the tunnel stream with its text.
import type { CriClient } from "../cri/client.ts";
import type { DialedSpdy } from "../../lib/spdy/upgrade.ts";
import { spdy } from "./spdy.ts";
import { PORTFORWARD_SPDY_PROTOCOL } from "../../lib/wsstream/channel.ts";
import type { PortForwardRequest, TunnelStream } from "../../lib/wsstream/tunnel.ts";

export class NoSandboxError extends Error {}

export async function findSandbox(cri: CriClient, uid: string): Promise<string> {
  const list = await cri.listPodSandbox();
  const ready = list.filter((s) => s.metadata?.uid === uid && s.state === "SANDBOX_READY").sort((a, b) => b.createdAt - a.createdAt);
  if (!ready.length) throw new NoSandboxError(`pod sandbox for uid ${uid} is not running on this node`);
  return ready[0]!.id;
}

export async function dialPortForward(cri: CriClient, req: PortForwardRequest): Promise<DialedSpdy> {
  const sandbox = await findSandbox(cri, req.uid);
  const url = await cri.portForward(sandbox, [req.port]);
  return (await spdy()).dialSpdy(url, [PORTFORWARD_SPDY_PROTOCOL]);
}

export async function runPortForward(t: TunnelStream, d: DialedSpdy, req: PortForwardRequest): Promise<void> {
  const s = d.session;
  const headers = { port: String(req.port), requestid: "0" };
  let errText = "";
  try {
    const errS = await s.openStream({ streamtype: "error", ...headers });
    errS.end();
    errS.on({ data: (b) => (errText += new TextDecoder().decode(b)) });
    const data = await s.openStream({ streamtype: "data", ...headers });
    await new Promise<void>((resolve) => {
      let inDone = false;
      let outDone = false;
      const check = () => {
        if (inDone && outDone) resolve();
      };
      data.on({
        data: (b) => t.write(b),
        end: () => {
          // Give the error stream a moment: containerd writes it before closing data.
          setTimeout(() => {
            if (errText) t.reset(errText.trim());
            else t.end();
            outDone = true;
            check();
          }, errText ? 0 : 20);
        },
        reset: () => {
          setTimeout(() => {
            if (errText) t.reset(errText.trim());
            else t.end();
            outDone = inDone = true;
            check();
          }, 20);
        },
      });
      t.on({
        data: (b) => data.write(b),
        end: () => {
          data.end();
          inDone = true;
          check();
        },
        reset: () => {
          data.reset();
          inDone = outDone = true;
          check();
        },
      });
    });
  } catch (e) {
    t.reset(errText.trim() || (e as Error).message);
  } finally {
    d.close();
  }
}
