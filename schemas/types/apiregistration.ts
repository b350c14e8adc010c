// apiregistration.k8s.io/v1 APIService, read-only: one per group version this server serves
// itself (kube-aggregator's "Local" APIServices, always available). Skiff aggregates no
// extension API servers, so creating one is refused rather than stored and never proxied.
// Field numbers follow k8s.io/kube-aggregator/pkg/apis/apiregistration/v1/generated.proto.
import { F, bool, bytes, int32, list, obj, str, time } from "../dsl";
import type { ResourceDef } from "../registry";
import { typeMetaFields } from "./meta";

export const APISERVICE_READ_ONLY =
  "Skiff serves every API group itself and aggregates no extension API servers: the APIServices listed are its own (Local) and cannot be created, changed or deleted";

export const APIService = obj("io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService", () => ({
  ...typeMetaFields(),
  spec: F(
    obj("io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIServiceSpec", () => ({
      service: F(obj("io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.ServiceReference", () => ({ namespace: F(str, 1), name: F(str, 2), port: F(int32, 3) })), 1),
      group: F(str, 2),
      version: F(str, 3),
      insecureSkipTLSVerify: F(bool, 4),
      caBundle: F(bytes, 5),
      groupPriorityMinimum: F(int32, 7, { required: true }),
      versionPriority: F(int32, 8, { required: true }),
    })),
    2,
  ),
  status: F(
    obj("io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIServiceStatus", () => ({
      conditions: F(
        list(
          obj("io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIServiceCondition", () => ({
            type: F(str, 1, { required: true }),
            status: F(str, 2, { required: true }),
            lastTransitionTime: F(time, 3),
            reason: F(str, 4),
            message: F(str, 5),
          })),
          { listType: "map", listMapKeys: ["type"] },
        ),
        1,
      ),
    })),
    3,
  ),
}));

export const resources: ResourceDef[] = [
  {
    group: "apiregistration.k8s.io",
    version: "v1",
    kind: "APIService",
    plural: "apiservices",
    singular: "apiservice",
    namespaced: false,
    categories: ["api-extensions"],
    type: APIService,
    verbs: ["get", "list"],
    readOnly: APISERVICE_READ_ONLY,
    noGeneration: true,
  },
];
