// The CSR signing controller (kube-controller-manager's csrsigning): signs approved
// CertificateSigningRequests of the built-in kubernetes.io signers with the cluster CA, after
// upstream's checks of subject and usages per signer; a request that fails them gets a Failed
// condition (SignerValidationFailure) instead. Other signers, kubernetes.io/legacy-unknown
// included, are left alone (pending until their own signer acts).
import type * as x509 from "@peculiar/x509";
import { findByKind } from "../../schemas/registry";
import { csrCondition, parseCsr } from "../../schemas/types/certificates";
import { requestSans, signRequest } from "../tls/csr-sign";
import type { KeyPairPem } from "../tls/pki";
import { Controller, type ControllerContext } from "./runtime/controller";
import type { Informer } from "./runtime/informer";

const CSR = "certificates.k8s.io/certificatesigningrequests";
export const csrResource = () => findByKind("certificates.k8s.io/v1", "CertificateSigningRequest")!;
const KUBELET_ORG = "system:nodes";
const NODE_PREFIX = "system:node:";

/** Whether the signer may issue this request: an error message, or "" when it may. */
type Check = (req: x509.Pkcs10CertificateRequest, usages: string[]) => string;

function usagesError(usages: string[], required: string[], allowed: string[]): string {
  const ok = required.every((u) => usages.includes(u)) && usages.every((u) => allowed.includes(u));
  return ok ? "" : `usages did not match [${allowed.join(" ")}]`;
}

function sanErrors(req: x509.Pkcs10CertificateRequest, forbid: ("dns" | "ip" | "email" | "url")[]): string {
  const names = requestSans(req);
  const label: Record<string, string> = { dns: "DNS subjectAltNames", ip: "IP subjectAltNames", email: "Email subjectAltNames", url: "URI subjectAltNames" };
  for (const t of forbid) if (names.some((n) => n.type === t)) return `${label[t]} are not allowed`;
  return "";
}

/** The built-in signers and their checks (upstream pkg/apis/certificates helpers and csrsigning). */
export const SIGNERS: Record<string, Check> = {
  "kubernetes.io/kube-apiserver-client": (_req, usages) =>
    usagesError(usages, ["client auth"], ["digital signature", "key encipherment", "client auth"]),
  "kubernetes.io/kube-apiserver-client-kubelet": (req, usages) => {
    const orgs = req.subjectName.getField("O");
    if (orgs.length !== 1 || orgs[0] !== KUBELET_ORG) return `organization list must only contain ${KUBELET_ORG}`;
    if (!(req.subjectName.getField("CN")[0] ?? "").startsWith(NODE_PREFIX)) return `subject common name does not begin with ${NODE_PREFIX}`;
    return sanErrors(req, ["dns", "email", "ip", "url"]) || usagesError(usages, ["client auth"], ["digital signature", "key encipherment", "client auth"]);
  },
  "kubernetes.io/kubelet-serving": (req, usages) => {
    const orgs = req.subjectName.getField("O");
    if (orgs.length !== 1 || orgs[0] !== KUBELET_ORG) return `organization list must only contain ${KUBELET_ORG}`;
    if (!(req.subjectName.getField("CN")[0] ?? "").startsWith(NODE_PREFIX)) return `subject common name does not begin with ${NODE_PREFIX}`;
    const names = requestSans(req);
    if (!names.some((n) => n.type === "dns" || n.type === "ip")) return "DNS or IP subjectAltName is required";
    return sanErrors(req, ["email", "url"]) || usagesError(usages, ["server auth"], ["digital signature", "key encipherment", "server auth"]);
  },
};

export class CsrSigningController extends Controller {
  private csrs: Informer;

  constructor(
    rt: ControllerContext,
    private readonly ca: KeyPairPem,
    private readonly maxDurationMs?: number,
  ) {
    // As upstream, the signer runs as the certificate-controller service account (RBAC: sign).
    super(rt, "certificate", 2);
    this.csrs = this.informer(CSR);
    this.csrs.addHandler({ add: (o) => this.queue.add(o.metadata.name), update: (_, o) => this.queue.add(o.metadata.name) });
  }

  async reconcile(name: string): Promise<void> {
    const csr = this.csrs.get(name);
    if (!csr || csr.status?.certificate) return;
    const check = SIGNERS[csr.spec?.signerName];
    if (!check) return;
    if (csrCondition(csr, "Approved")?.status !== "True" || csrCondition(csr, "Denied") || csrCondition(csr, "Failed")?.status === "True") return;
    const usages: string[] = csr.spec.usages ?? [];
    let why = "";
    let req: x509.Pkcs10CertificateRequest | undefined;
    try {
      req = parseCsr(csr.spec.request);
      why = check(req, usages);
    } catch (e) {
      why = `unable to parse csr: ${(e as Error).message}`;
    }
    let cert = "";
    if (!why && req) {
      try {
        cert = await signRequest(this.ca, req, { usages, expirationSeconds: csr.spec.expirationSeconds, maxDurationMs: this.maxDurationMs, now: this.now() });
      } catch (e) {
        why = (e as Error).message;
      }
    }
    const ts = new Date(this.now()).toISOString().replace(/\.\d+Z$/, "Z");
    await this.api.update(csrResource(), "", name, (cur) => {
      if (cur.metadata.uid !== csr.metadata.uid || cur.status?.certificate) return cur;
      const status = { ...(cur.status ?? {}) };
      if (why) status.conditions = [...(status.conditions ?? []), { type: "Failed", status: "True", reason: "SignerValidationFailure", message: why, lastUpdateTime: ts, lastTransitionTime: ts }];
      else status.certificate = Buffer.from(cert).toString("base64");
      return { ...cur, status };
    }, { status: true });
  }
}
