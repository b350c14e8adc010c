// CertificateSigningRequest (upstream registry/certificates/certificates/strategy.go and the
// certificates admission plugins): the requester's identity is recorded from the writer, never
// from the body; the main resource changes only metadata; /approval changes only the conditions
// and needs the `approve` verb on the signer (resource "signers", name the signerName or
// "<domain>/*"); /status may not touch Approved/Denied, and setting the certificate needs `sign`.
// A kube-apiserver-client CSR asking for system:masters is refused (CertificateSubjectRestriction).
import type { UserInfo } from "../../auth/attributes";
import { authorizerFor } from "../../auth/authz";
import { forbidden } from "../../errors";
import { LEGACY_UNKNOWN_SIGNER, parseCsr } from "../../../schemas/types/certificates";
import type { Store } from "../../store/store";
import type { Strategy } from "../strategy";

const GROUP = "certificates.k8s.io";
const APPROVAL_TYPES = new Set(["Approved", "Denied"]);

/** May `user` do `verb` ("approve", "sign") for signerName, by its name or its "<domain>/*"? */
export async function allowedForSigner(store: Store, user: UserInfo, verb: string, signerName: string): Promise<boolean> {
  const authz = authorizerFor(store);
  const attrs = (name: string) => ({ verb, resourceRequest: true, path: "", apiGroup: GROUP, apiVersion: "*", resource: "signers", subresource: "", namespace: "", name });
  if ((await authz.authorize(user, attrs(signerName))).allowed) return true;
  const domain = signerName.split("/")[0];
  return (await authz.authorize(user, attrs(`${domain}/*`))).allowed;
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

/** Conditions without a timestamp get now (upstream's populateConditionTimestamps). */
function stampConditions(obj: any, old: any): void {
  for (const c of obj.status?.conditions ?? []) {
    const was = (old?.status?.conditions ?? []).find((o: any) => o?.type === c?.type);
    c.lastUpdateTime ||= now();
    if (!c.lastTransitionTime) c.lastTransitionTime = was && was.status === c.status ? (was.lastTransitionTime ?? now()) : now();
  }
}

const conds = (o: any) => (o?.status?.conditions ?? []) as any[];

export const csrStrategy: Strategy = {
  prepareForCreate(ctx, obj) {
    obj.spec ??= {};
    // Who asked is the writer, whatever the body says (as upstream's PrepareForCreate).
    obj.spec.username = ctx.user.user;
    obj.spec.groups = [...ctx.user.groups];
    delete obj.spec.uid;
    delete obj.spec.extra;
    delete obj.status;
  },
  prepareForUpdate(_ctx, obj, old, sub) {
    obj.spec = old.spec;
    if (sub === "") {
      if (old.status === undefined) delete obj.status;
      else obj.status = old.status;
      return;
    }
    if (sub === "approval") {
      // Only the conditions change here; the certificate is the signer's.
      const status: any = { ...(old.status ?? {}) };
      if (obj.status?.conditions) status.conditions = obj.status.conditions;
      else delete status.conditions;
      obj.status = status;
    } else if (sub === "status") {
      // Approved/Denied are kept as they were: they change through /approval only.
      const kept = conds(old).filter((c) => APPROVAL_TYPES.has(c?.type));
      const rest = conds(obj).filter((c) => !APPROVAL_TYPES.has(c?.type));
      obj.status = { ...(obj.status ?? {}), conditions: [...kept, ...rest] };
      if (!obj.status.conditions.length) delete obj.status.conditions;
    }
    stampConditions(obj, old);
  },
  async validateWrite(ctx, obj, old, sub) {
    const signer: string = obj.spec?.signerName ?? "";
    if (!old) {
      if (signer === "kubernetes.io/kube-apiserver-client") {
        let orgs: string[] = [];
        try {
          orgs = parseCsr(obj.spec.request).subjectName.getField("O");
        } catch {
          return; // validation reports the bad request
        }
        if (orgs.includes("system:masters"))
          throw forbidden(`certificatesigningrequests.certificates.k8s.io "${obj.metadata?.name ?? ""}" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed`);
      }
      return;
    }
    if (sub === "approval" && !(await allowedForSigner(ctx.store, ctx.user, "approve", signer)))
      throw forbidden(`certificatesigningrequests.certificates.k8s.io "${obj.metadata.name}" is forbidden: user not permitted to approve requests with signerName "${signer}"`);
    if (sub === "status" && obj.status?.certificate && obj.status.certificate !== old.status?.certificate) {
      if (signer === LEGACY_UNKNOWN_SIGNER || !(await allowedForSigner(ctx.store, ctx.user, "sign", signer)))
        throw forbidden(`certificatesigningrequests.certificates.k8s.io "${obj.metadata.name}" is forbidden: user not permitted to sign requests with signerName "${signer}"`);
    }
  },
};
