// ServiceAccount: a pod runs as a service account ("default" when it names none) and, unless
// automountServiceAccountToken is false on the pod or on the account, gets upstream's
// `kube-api-access-xxxxx` projected volume (a bound token the node requests for the pod, the
// cluster CA from the kube-root-ca.crt ConfigMap, the namespace) mounted read-only in every
// container at /var/run/secrets/kubernetes.io/serviceaccount, as in-cluster clients expect.
// Departure: a pod whose account does not exist yet is admitted (upstream refuses it): right after
// a namespace is created its `default` account may not be there, and the node retries the token.
import type { AdmissionPlugin } from "./types";

export const TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount";
const MIRROR = "kubernetes.io/config.mirror";
// utilrand.String's alphabet: no vowels, no confusable characters.
const ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

function suffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  return [...bytes].map((b) => ALPHABET[b % ALPHABET.length]).join("");
}

export const serviceAccount: AdmissionPlugin = {
  name: "ServiceAccount",
  handles: (req) => req.operation === "CREATE" && req.subresource === "" && req.resource.group === "" && req.resource.plural === "pods",
  admit(req) {
    const pod = req.object;
    // Mirror pods come from a node's static manifests; NodeRestriction keeps them off accounts.
    if (pod.metadata?.annotations?.[MIRROR] !== undefined) return;
    const spec = (pod.spec ??= {});
    if (!spec.serviceAccountName) spec.serviceAccountName = spec.serviceAccount || "default";
    spec.serviceAccount = spec.serviceAccountName;
    if (spec.automountServiceAccountToken === false) return;
    if (spec.automountServiceAccountToken === undefined) {
      const sa = req.store.get("serviceaccounts", req.namespace, spec.serviceAccountName)?.obj;
      if (sa?.automountServiceAccountToken === false) return;
    }
    const containers: any[] = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
    const needs = containers.filter((c) => !(c.volumeMounts ?? []).some((m: any) => m?.mountPath === TOKEN_MOUNT_PATH));
    if (!needs.length) return;
    const volumes: any[] = (spec.volumes ??= []);
    let name = `kube-api-access-${suffix()}`;
    while (volumes.some((v) => v?.name === name)) name = `kube-api-access-${suffix()}`;
    volumes.push({
      name,
      projected: {
        defaultMode: 0o644,
        sources: [
          { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
          { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
          { downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } },
        ],
      },
    });
    for (const c of needs) c.volumeMounts = [...(c.volumeMounts ?? []), { name, readOnly: true, mountPath: TOKEN_MOUNT_PATH }];
  },
};
