// The CSR cleaner (kube-controller-manager's csrcleaner): finished and abandoned requests do not
// pile up. Upstream's deadlines: approved and issued, denied or failed requests go 1 hour after
// their condition, pending ones 24 hours after creation, and any request whose issued
// certificate has expired at once.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { csrCondition, pemText } from "../../schemas/types/certificates";
import { csrResource } from "./csr-signing";
import { Controller, type ControllerContext } from "./runtime/controller";
import type { Informer } from "./runtime/informer";

const HOUR = 3600_000;
export const APPROVED_EXPIRATION_MS = HOUR;
export const DENIED_EXPIRATION_MS = HOUR;
export const PENDING_EXPIRATION_MS = 24 * HOUR;

const at = (ts: unknown) => (typeof ts === "string" ? Date.parse(ts) : NaN);

/** When the request is to be deleted (ms since epoch). */
export function csrDeadline(csr: any): number {
  const deadlines: number[] = [];
  const cert = csr.status?.certificate;
  if (cert) {
    try {
      deadlines.push(new x509.X509Certificate(pemText(cert)).notAfter.getTime());
    } catch {
      // an unreadable certificate is judged by the conditions alone
    }
  }
  const approved = csrCondition(csr, "Approved");
  const denied = csrCondition(csr, "Denied");
  const failed = csrCondition(csr, "Failed");
  const when = (c: any) => at(c.lastUpdateTime) || at(c.lastTransitionTime) || at(csr.metadata.creationTimestamp);
  if (denied) deadlines.push(when(denied) + DENIED_EXPIRATION_MS);
  else if (failed) deadlines.push(when(failed) + DENIED_EXPIRATION_MS);
  else if (approved && cert) deadlines.push(when(approved) + APPROVED_EXPIRATION_MS);
  else deadlines.push(at(csr.metadata.creationTimestamp) + PENDING_EXPIRATION_MS);
  return Math.min(...deadlines.filter((d) => Number.isFinite(d)));
}

export class CsrCleanerController extends Controller {
  private csrs: Informer;

  constructor(rt: ControllerContext) {
    super(rt, "certificate-cleaner", 1);
    this.csrs = this.informer("certificates.k8s.io/certificatesigningrequests");
    this.csrs.addHandler({ add: (o) => this.queue.add(o.metadata.name), update: (_, o) => this.queue.add(o.metadata.name) });
  }

  async reconcile(name: string): Promise<void> {
    const csr = this.csrs.get(name);
    if (!csr) return;
    const left = csrDeadline(csr) - this.now();
    if (left > 0) {
      if (Number.isFinite(left)) this.queue.addAfter(name, left);
      return;
    }
    await this.api.delete(csrResource(), "", name, { preconditions: { uid: csr.metadata.uid } });
  }
}
