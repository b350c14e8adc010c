// apps, batch, networking, rbac and the smaller groups: wire facts (pb numbers, list semantics),
// Kubernetes defaulting and the validation messages a real API server gives.
import { describe, expect, test } from "bun:test";
import type { Field, ObjTy, Ty } from "../../schemas/dsl";
import type { FieldError, ResourceDef } from "../../schemas/registry";
import { resources as appsResources, Deployment, DeploymentSpec } from "../../schemas/types/apps";
import { cronScheduleError, resources as batchResources } from "../../schemas/types/batch";
import { resources as networkingResources } from "../../schemas/types/networking";
import { resources as rbacResources, PolicyRule, Role } from "../../schemas/types/rbac";
import { resources as miscResources, Scale, TokenRequest } from "../../schemas/types/misc";

const all: ResourceDef[] = [...appsResources, ...batchResources, ...networkingResources, ...rbacResources, ...miscResources];
const res = (kind: string) => all.find((r) => r.kind === kind)!;
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

function fieldOf(t: ObjTy, name: string): Field {
  const f = t.fields()[name];
  if (!f) throw new Error(`${t.name} has no field ${name}`);
  return f;
}

const nginxDeployment = () => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "default" },
  spec: {
    selector: { matchLabels: { app: "web" } },
    template: {
      metadata: { labels: { app: "web" } },
      spec: { containers: [{ name: "nginx", image: "nginx" }] },
    },
  },
});

describe("protobuf field numbers", () => {
  test("well-known fields", () => {
    expect(fieldOf(Deployment, "spec").pb).toBe(2);
    expect(fieldOf(Deployment, "status").pb).toBe(3);
    expect(fieldOf(Deployment, "metadata").pb).toBe(1);
    expect(fieldOf(DeploymentSpec, "replicas").pb).toBe(1);
    expect(fieldOf(DeploymentSpec, "selector").pb).toBe(2);
    expect(fieldOf(DeploymentSpec, "template").pb).toBe(3);
    expect(fieldOf(DeploymentSpec, "progressDeadlineSeconds").pb).toBe(9);
    expect(fieldOf(Role, "rules").pb).toBe(2);
    expect(fieldOf(PolicyRule, "verbs").pb).toBe(1);
    expect(fieldOf(PolicyRule, "nonResourceURLs").pb).toBe(5);
  });

  test("no duplicate pb numbers in any reachable object type", () => {
    const seen = new Set<string>();
    const problems: string[] = [];
    const visit = (t: Ty) => {
      if (t.kind === "list" || t.kind === "map") return visit(t.of);
      if (t.kind !== "obj" || seen.has(t.name)) return;
      seen.add(t.name);
      const nums = new Map<number, string>();
      for (const [name, f] of Object.entries(t.fields())) {
        if (f.pb !== undefined) {
          if (nums.has(f.pb)) problems.push(`${t.name}: ${name} and ${nums.get(f.pb)} share ${f.pb}`);
          nums.set(f.pb, name);
        }
        visit(f.t);
      }
    };
    for (const r of all) visit(r.type);
    visit(Scale);
    visit(TokenRequest);
    expect(problems).toEqual([]);
    expect(seen.size).toBeGreaterThan(100);
  });

  test("list semantics follow the struct tags", () => {
    const conditions = fieldOf(fieldOf(Deployment, "status").t as ObjTy, "conditions").t;
    expect(conditions).toMatchObject({ kind: "list", patchStrategy: "merge", patchMergeKey: "type", listType: "map" });
    expect(fieldOf(DeploymentSpec, "strategy").patchStrategy).toBe("retainKeys");
    expect(fieldOf(Role, "rules").t).toMatchObject({ kind: "list", listType: "atomic" });
  });
});

describe("registration", () => {
  test("names, short names and categories as Kubernetes", () => {
    const want: Record<string, [string, string[] | undefined, string[] | undefined, boolean]> = {
      Deployment: ["deployments", ["deploy"], ["all"], true],
      ReplicaSet: ["replicasets", ["rs"], ["all"], true],
      StatefulSet: ["statefulsets", ["sts"], ["all"], true],
      DaemonSet: ["daemonsets", ["ds"], ["all"], true],
      ControllerRevision: ["controllerrevisions", undefined, undefined, true],
      Job: ["jobs", undefined, ["all"], true],
      CronJob: ["cronjobs", ["cj"], ["all"], true],
      Ingress: ["ingresses", ["ing"], undefined, true],
      IngressClass: ["ingressclasses", undefined, undefined, false],
      NetworkPolicy: ["networkpolicies", ["netpol"], undefined, true],
      Role: ["roles", undefined, undefined, true],
      ClusterRoleBinding: ["clusterrolebindings", undefined, undefined, false],
      StorageClass: ["storageclasses", ["sc"], undefined, false],
      HorizontalPodAutoscaler: ["horizontalpodautoscalers", ["hpa"], ["all"], true],
      EndpointSlice: ["endpointslices", undefined, undefined, true],
      Lease: ["leases", undefined, undefined, true],
      SelfSubjectAccessReview: ["selfsubjectaccessreviews", undefined, undefined, false],
    };
    for (const [kind, [plural, shortNames, categories, namespaced]] of Object.entries(want)) {
      const r = res(kind);
      expect(r.plural).toBe(plural);
      expect(r.shortNames).toEqual(shortNames);
      expect(r.categories).toEqual(categories);
      expect(r.namespaced).toBe(namespaced);
    }
    expect(res("SelfSubjectAccessReview").verbs).toEqual(["create"]);
    expect(res("Deployment").subresources?.scale?.specReplicasPath).toBe(".spec.replicas");
    expect(all.find((r) => r.kind === "TokenRequest")).toBeUndefined();
    expect(all.find((r) => r.kind === "Scale")).toBeUndefined();
  });
});

describe("Deployment", () => {
  test("defaults exactly as Kubernetes", () => {
    const d: any = nginxDeployment();
    res("Deployment").defaults!(d);
    expect(d.spec).toEqual({
      replicas: 1,
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      selector: { matchLabels: { app: "web" } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: {
          containers: [
            {
              name: "nginx",
              image: "nginx",
              imagePullPolicy: "Always",
              resources: {},
              terminationMessagePath: "/dev/termination-log",
              terminationMessagePolicy: "File",
            },
          ],
          dnsPolicy: "ClusterFirst",
          restartPolicy: "Always",
          schedulerName: "default-scheduler",
          securityContext: {},
          terminationGracePeriodSeconds: 30,
        },
      },
    });
  });

  test("explicit values are kept; Recreate gets no rollingUpdate", () => {
    const d: any = nginxDeployment();
    d.spec.replicas = 0;
    d.spec.strategy = { type: "Recreate" };
    res("Deployment").defaults!(d);
    expect(d.spec.replicas).toBe(0);
    expect(d.spec.strategy).toEqual({ type: "Recreate" });
  });

  test("a defaulted Deployment is valid", () => {
    const d: any = nginxDeployment();
    res("Deployment").defaults!(d);
    expect(res("Deployment").validate!(d)).toEqual([]);
  });

  test("selector that does not match the template labels", () => {
    const d: any = nginxDeployment();
    d.spec.template.metadata.labels = { app: "other", tier: "fe" };
    res("Deployment").defaults!(d);
    const errs = res("Deployment").validate!(d);
    expect(errs).toContainEqual({
      field: "spec.template.metadata.labels",
      type: "FieldValueInvalid",
      message: 'Invalid value: map[string]string{"app":"other", "tier":"fe"}: `selector` does not match template `labels`',
    });
  });

  test("missing selector, negative replicas, bad strategy", () => {
    const d: any = nginxDeployment();
    delete d.spec.selector;
    d.spec.replicas = -1;
    res("Deployment").defaults!(d);
    d.spec.strategy.rollingUpdate = { maxUnavailable: 0, maxSurge: "0%" };
    const errs = res("Deployment").validate!(d);
    const fields = errs.map((e: FieldError) => `${e.field}: ${e.message}`);
    expect(fields).toContain("spec.selector: Required value");
    expect(fields).toContain("spec.replicas: Invalid value: -1: must be greater than or equal to 0");
    expect(fields).toContain("spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0");
  });

  test("restartPolicy must be Always in a Deployment template", () => {
    const d: any = nginxDeployment();
    d.spec.template.spec.restartPolicy = "Never";
    res("Deployment").defaults!(d);
    const errs = res("Deployment").validate!(d);
    expect(errs).toContainEqual({
      field: "spec.template.spec.restartPolicy",
      type: "FieldValueNotSupported",
      message: 'Unsupported value: "Never": supported values: "Always"',
    });
  });

  test("selector is immutable", () => {
    expect(res("Deployment").immutable).toContain("spec.selector");
  });
});

describe("StatefulSet / DaemonSet / ReplicaSet", () => {
  const sts = () => ({
    metadata: { name: "db", namespace: "default" },
    spec: {
      serviceName: "db",
      selector: { matchLabels: { app: "db" } },
      template: {
        metadata: { labels: { app: "db" } },
        // The mount refers to the claim template, not to a pod volume.
        spec: { containers: [{ name: "db", image: "postgres:16", volumeMounts: [{ name: "data", mountPath: "/var/lib/postgresql" }] }] },
      },
      volumeClaimTemplates: [
        { metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } },
      ],
    },
  });

  test("StatefulSet defaults", () => {
    const s: any = sts();
    res("StatefulSet").defaults!(s);
    expect(s.spec.replicas).toBe(1);
    expect(s.spec.podManagementPolicy).toBe("OrderedReady");
    expect(s.spec.updateStrategy).toEqual({ type: "RollingUpdate", rollingUpdate: { partition: 0 } });
    expect(s.spec.revisionHistoryLimit).toBe(10);
    expect(s.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    expect(s.spec.volumeClaimTemplates[0].spec.volumeMode).toBe("Filesystem");
    expect(s.spec.volumeClaimTemplates[0].status).toEqual({ phase: "Pending" });
    expect(s.spec.template.spec.containers[0].imagePullPolicy).toBe("IfNotPresent");
    expect(res("StatefulSet").validate!(s)).toEqual([]);
  });

  test("StatefulSet spec fields other than the mutable ones are forbidden to change", () => {
    const old: any = sts();
    res("StatefulSet").defaults!(old);
    const upd = clone(old);
    upd.spec.replicas = 5;
    upd.spec.template.spec.containers[0].image = "postgres:17";
    expect(res("StatefulSet").validate!(upd, old)).toEqual([]);
    upd.spec.volumeClaimTemplates[0].spec.resources.requests.storage = "2Gi";
    expect(res("StatefulSet").validate!(upd, old)).toContainEqual({
      field: "spec",
      type: "FieldValueForbidden",
      message:
        "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    });
  });

  test("DaemonSet defaults", () => {
    const ds: any = { metadata: { name: "agent", namespace: "kube-system" }, spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "busybox:1" }] } } } };
    res("DaemonSet").defaults!(ds);
    expect(ds.spec.updateStrategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
    expect(ds.spec.revisionHistoryLimit).toBe(10);
    expect(res("DaemonSet").validate!(ds)).toEqual([]);
  });

  test("ReplicaSet defaults replicas and selects status.replicas", () => {
    const rs: any = { metadata: { name: "x", namespace: "default" }, spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "busybox" }] } } } };
    res("ReplicaSet").defaults!(rs);
    expect(rs.spec.replicas).toBe(1);
    expect(res("ReplicaSet").fieldSelectors!["status.replicas"]!(rs)).toBe("0");
  });
});

describe("Job / CronJob", () => {
  const job = () => ({
    metadata: { name: "pi", namespace: "default", uid: "1b2c3d4e-0000-4000-8000-000000000001" },
    spec: {
      template: { spec: { restartPolicy: "Never", containers: [{ name: "pi", image: "perl:5.34", command: ["perl"] }] } },
    },
  });

  test("defaults and the generated selector", () => {
    const j: any = job();
    res("Job").defaults!(j);
    const uid = j.metadata.uid;
    expect(j.spec).toMatchObject({
      parallelism: 1,
      completions: 1,
      backoffLimit: 6,
      completionMode: "NonIndexed",
      suspend: false,
      podReplacementPolicy: "TerminatingOrFailed",
      selector: { matchLabels: { "batch.kubernetes.io/controller-uid": uid } },
    });
    expect(j.spec.manualSelector).toBeUndefined();
    expect(j.spec.template.metadata.labels).toEqual({
      "batch.kubernetes.io/controller-uid": uid,
      "batch.kubernetes.io/job-name": "pi",
      "controller-uid": uid,
      "job-name": "pi",
    });
    expect(j.metadata.labels).toEqual(j.spec.template.metadata.labels);
    expect(res("Job").validate!(j)).toEqual([]);
    expect(res("Job").fieldSelectors!["status.successful"]!(j)).toBe("0");
  });

  test("parallelism alone leaves completions unset; backoffLimitPerIndex defaults backoffLimit to MaxInt32", () => {
    const j: any = job();
    j.spec.parallelism = 3;
    j.spec.completionMode = "Indexed";
    j.spec.completions = 5;
    j.spec.backoffLimitPerIndex = 1;
    res("Job").defaults!(j);
    expect(j.spec.completions).toBe(5);
    expect(j.spec.backoffLimit).toBe(2147483647);
    const k: any = job();
    k.spec.parallelism = 2;
    res("Job").defaults!(k);
    expect(k.spec.completions).toBeUndefined();
  });

  test("restartPolicy Always is rejected with Kubernetes' message", () => {
    const j: any = job();
    delete j.spec.template.spec.restartPolicy;
    res("Job").defaults!(j);
    expect(res("Job").validate!(j)).toContainEqual({
      field: "spec.template.spec.restartPolicy",
      type: "FieldValueRequired",
      message: 'Required value: valid values: "OnFailure", "Never"',
    });
  });

  test("CronJob defaults and schedule validation", () => {
    const cj: any = {
      metadata: { name: "hello", namespace: "default" },
      spec: { schedule: "*/5 * * * *", jobTemplate: { spec: { template: { spec: { restartPolicy: "OnFailure", containers: [{ name: "c", image: "busybox" }] } } } } },
    };
    res("CronJob").defaults!(cj);
    expect(cj.spec).toMatchObject({ concurrencyPolicy: "Allow", suspend: false, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1 });
    expect(cj.spec.jobTemplate.spec.parallelism).toBeUndefined();
    expect(res("CronJob").validate!(cj)).toEqual([]);
    cj.spec.schedule = "61 * * * *";
    expect(res("CronJob").validate!(cj)).toContainEqual({
      field: "spec.schedule",
      type: "FieldValueInvalid",
      message: 'Invalid value: "61 * * * *": end of range (61) above maximum (59): 61',
    });
    cj.spec.schedule = "";
    expect(res("CronJob").validate!(cj).map((e) => e.field)).toContain("spec.schedule");
  });

  test("cron parser accepts what robfig/cron ParseStandard accepts", () => {
    for (const ok of ["* * * * *", "0 0 * * 0", "@hourly", "@every 1h30m", "0 9-17/2 * JAN-MAR mon-fri", "5,10 */2 1 * ?"])
      expect(cronScheduleError(ok)).toBeUndefined();
    expect(cronScheduleError("* * * *")).toBe("expected exactly 5 fields, found 4: [* * * *]");
    expect(cronScheduleError("@fortnightly")).toBe("unrecognized descriptor: @fortnightly");
    expect(cronScheduleError("x * * * *")).toBe('failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax');
    expect(cronScheduleError("* * * * 7")).toBe("end of range (7) above maximum (6): 7");
  });
});

describe("networking", () => {
  test("NetworkPolicy policyTypes and port protocol defaults", () => {
    const np: any = {
      metadata: { name: "np", namespace: "default" },
      spec: { podSelector: {}, egress: [{ ports: [{ port: 53 }] }] },
    };
    res("NetworkPolicy").defaults!(np);
    expect(np.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(np.spec.egress[0].ports[0].protocol).toBe("TCP");
    expect(res("NetworkPolicy").validate!(np)).toEqual([]);
  });

  test("Ingress pathType is required", () => {
    const ing: any = {
      metadata: { name: "web", namespace: "default" },
      spec: { rules: [{ host: "example.com", http: { paths: [{ path: "/", backend: { service: { name: "web", port: { number: 80 } } } }] } }] },
    };
    expect(res("Ingress").validate!(ing)).toEqual([
      { field: "spec.rules[0].http.paths[0].pathType", type: "FieldValueRequired", message: "Required value: pathType must be specified" },
    ]);
    ing.spec.rules[0].http.paths[0].pathType = "Prefix";
    expect(res("Ingress").validate!(ing)).toEqual([]);
  });
});

describe("rbac", () => {
  test("Role rules need verbs; bindings default apiGroups", () => {
    const role: any = { metadata: { name: "system:reader", namespace: "default" }, rules: [{ apiGroups: [""], resources: ["pods"] }] };
    expect(res("Role").validate!(role)).toEqual([
      { field: "rules[0].verbs", type: "FieldValueRequired", message: "Required value: verbs must contain at least one value" },
    ]);
    const rb: any = {
      metadata: { name: "rb", namespace: "default" },
      subjects: [{ kind: "User", name: "alice" }, { kind: "ServiceAccount", name: "default", namespace: "default" }],
      roleRef: { kind: "Role", name: "system:reader" },
    };
    res("RoleBinding").defaults!(rb);
    expect(rb.roleRef.apiGroup).toBe("rbac.authorization.k8s.io");
    expect(rb.subjects[0].apiGroup).toBe("rbac.authorization.k8s.io");
    expect(rb.subjects[1].apiGroup).toBeUndefined(); // "" is omitted from JSON, as Go does
    expect(res("RoleBinding").validate!(rb)).toEqual([]);
    const changed = clone(rb);
    changed.roleRef.name = "other";
    expect(res("RoleBinding").validate!(changed, rb).map((e) => e.field)).toEqual(["roleRef"]);
  });
});

describe("misc", () => {
  test("StorageClass and HPA defaults", () => {
    const sc: any = { metadata: { name: "local-path" }, provisioner: "rancher.io/local-path" };
    res("StorageClass").defaults!(sc);
    expect(sc).toMatchObject({ reclaimPolicy: "Delete", volumeBindingMode: "Immediate" });
    expect(res("StorageClass").validate!(sc)).toEqual([]);
    const hpa: any = {
      metadata: { name: "web", namespace: "default" },
      spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, maxReplicas: 5, behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } },
    };
    res("HorizontalPodAutoscaler").defaults!(hpa);
    expect(hpa.spec.minReplicas).toBe(1);
    expect(hpa.spec.metrics).toEqual([{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } } }]);
    expect(hpa.spec.behavior.scaleDown).toEqual({ stabilizationWindowSeconds: 60, selectPolicy: "Max", policies: [{ type: "Percent", value: 100, periodSeconds: 15 }] });
    expect(hpa.spec.behavior.scaleUp.policies).toHaveLength(2);
    expect(res("HorizontalPodAutoscaler").validate!(hpa)).toEqual([]);
  });

  test("SelfSubjectAccessReview needs exactly one of the attribute kinds", () => {
    expect(res("SelfSubjectAccessReview").validate!({ spec: { resourceAttributes: { verb: "get", resource: "pods" } } })).toEqual([]);
    expect(res("SelfSubjectAccessReview").validate!({ spec: {} }).map((e) => e.field)).toEqual(["spec.resourceAttributes"]);
  });
});
