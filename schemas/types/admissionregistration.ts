// admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration and
// MutatingWebhookConfiguration: which writes are sent to which admission webhook.
// server/admission/webhooks/ calls them.
import { F, atomicList, bytes, int32, keyedList, obj, str, strEnum } from "../dsl";
import type { FieldError, ResourceDef } from "../registry";
import { dns1123SubdomainErrors, duplicate, forbidden, invalid, notSupported, required } from "../validation";
import { LabelSelector, typeMetaFields } from "./meta";
import { validateLabelSelector } from "./apps";

const g = (n: string) => `io.k8s.api.admissionregistration.v1.${n}`;

const ServiceReference = obj(g("ServiceReference"), () => ({
  namespace: F(str, undefined, { required: true }),
  name: F(str, undefined, { required: true }),
  path: F(str),
  port: F(int32),
}));

export const WebhookClientConfig = obj(g("WebhookClientConfig"), () => ({
  url: F(str),
  service: F(ServiceReference),
  caBundle: F(bytes),
}));

const RuleWithOperations = obj(g("RuleWithOperations"), () => ({
  operations: F(atomicList(str)),
  apiGroups: F(atomicList(str)),
  apiVersions: F(atomicList(str)),
  resources: F(atomicList(str)),
  scope: F(str),
}));

const MatchCondition = obj(g("MatchCondition"), () => ({
  name: F(str, undefined, { required: true }),
  expression: F(str, undefined, { required: true }),
}));

const webhookFields = () => ({
  name: F(str, undefined, { required: true }),
  clientConfig: F(WebhookClientConfig, undefined, { required: true }),
  rules: F(atomicList(RuleWithOperations)),
  failurePolicy: F(strEnum(["Ignore", "Fail"])),
  matchPolicy: F(strEnum(["Exact", "Equivalent"])),
  namespaceSelector: F(LabelSelector),
  objectSelector: F(LabelSelector),
  sideEffects: F(strEnum(["None", "NoneOnDryRun", "Some", "Unknown"]), undefined, { required: true }),
  timeoutSeconds: F(int32),
  admissionReviewVersions: F(atomicList(str), undefined, { required: true }),
  matchConditions: F(keyedList(MatchCondition, "name")),
});

const ValidatingWebhook = obj(g("ValidatingWebhook"), webhookFields);
const MutatingWebhook = obj(g("MutatingWebhook"), () => ({ ...webhookFields(), reinvocationPolicy: F(strEnum(["Never", "IfNeeded"])) }));

export const ValidatingWebhookConfiguration = obj(
  g("ValidatingWebhookConfiguration"),
  () => ({ ...typeMetaFields(), webhooks: F(keyedList(ValidatingWebhook, "name")) }),
  { desc: "ValidatingWebhookConfiguration describes the configuration of and admission webhook that accept or reject and object without changing it." },
);
export const MutatingWebhookConfiguration = obj(
  g("MutatingWebhookConfiguration"),
  () => ({ ...typeMetaFields(), webhooks: F(keyedList(MutatingWebhook, "name")) }),
  { desc: "MutatingWebhookConfiguration describes the configuration of and admission webhook that accept or reject and may change the object." },
);

function defaults(mutating: boolean) {
  return (o: any) => {
    for (const w of Array.isArray(o.webhooks) ? o.webhooks : []) {
      if (!w || typeof w !== "object") continue;
      w.failurePolicy ??= "Fail";
      w.matchPolicy ??= "Equivalent";
      w.namespaceSelector ??= {};
      w.objectSelector ??= {};
      w.timeoutSeconds ??= 10;
      if (mutating) w.reinvocationPolicy ??= "Never";
      for (const r of w.rules ?? []) if (r && typeof r === "object") r.scope ??= "*";
      const svc = w.clientConfig?.service;
      if (svc && typeof svc === "object") svc.port ??= 443;
    }
  };
}

const OPERATIONS = ["*", "CREATE", "UPDATE", "DELETE", "CONNECT"];

function validate(o: any): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  (o.webhooks ?? []).forEach((w: any, i: number) => {
    const p = `webhooks[${i}]`;
    if (!w?.name) errs.push(required(`${p}.name`));
    else {
      if (dns1123SubdomainErrors(w.name).length || w.name.split(".").length < 3) errs.push(invalid(`${p}.name`, w.name, "should be a domain with at least three segments separated by dots"));
      if (seen.has(w.name)) errs.push(duplicate(`${p}.name`, w.name));
      seen.add(w.name);
    }
    const cc = w?.clientConfig ?? {};
    if (!!cc.url === !!cc.service) errs.push(required(`${p}.clientConfig`, "exactly one of url or service is required"));
    if (cc.url) {
      let u: URL | undefined;
      try {
        u = new URL(cc.url);
      } catch {
        errs.push(invalid(`${p}.clientConfig.url`, cc.url, "must be a valid URL"));
      }
      if (u && u.protocol !== "https:") errs.push(invalid(`${p}.clientConfig.url`, cc.url, `'https' is the only allowed URL scheme`));
      if (u && (u.hash || u.username || u.password || u.search)) errs.push(invalid(`${p}.clientConfig.url`, cc.url, "fragments, query parameters and user information are not permitted"));
    }
    if (cc.service) {
      if (!cc.service.name) errs.push(required(`${p}.clientConfig.service.name`));
      if (!cc.service.namespace) errs.push(required(`${p}.clientConfig.service.namespace`));
      const port = cc.service.port;
      if (port !== undefined && (port < 1 || port > 65535)) errs.push(invalid(`${p}.clientConfig.service.port`, port, "port is not valid: must be between 1 and 65535, inclusive"));
      if (cc.service.path !== undefined && !String(cc.service.path).startsWith("/")) errs.push(invalid(`${p}.clientConfig.service.path`, cc.service.path, "must start with a '/'"));
    }
    if (!w?.sideEffects) errs.push(notSupported(`${p}.sideEffects`, "", ["None", "NoneOnDryRun"]));
    else if (!["None", "NoneOnDryRun"].includes(w.sideEffects)) errs.push(notSupported(`${p}.sideEffects`, w.sideEffects, ["None", "NoneOnDryRun"]));
    const versions: string[] = w?.admissionReviewVersions ?? [];
    if (!versions.length) errs.push(required(`${p}.admissionReviewVersions`, "must specify one of v1, v1beta1"));
    else if (!versions.includes("v1") && !versions.includes("v1beta1")) errs.push(invalid(`${p}.admissionReviewVersions`, versions, "must include at least one of v1, v1beta1"));
    if (w?.timeoutSeconds !== undefined && (w.timeoutSeconds < 1 || w.timeoutSeconds > 30)) errs.push(invalid(`${p}.timeoutSeconds`, w.timeoutSeconds, "the timeout value must be between 1 and 30 seconds"));
    (w?.rules ?? []).forEach((r: any, j: number) => {
      const rp = `${p}.rules[${j}]`;
      for (const k of ["operations", "apiGroups", "apiVersions", "resources"]) if (!Array.isArray(r?.[k]) || !r[k].length) errs.push(required(`${rp}.${k}`));
      (r?.operations ?? []).forEach((op: string, n: number) => OPERATIONS.includes(op) || errs.push(notSupported(`${rp}.operations[${n}]`, op, OPERATIONS)));
      if (r?.scope !== undefined && !["*", "Cluster", "Namespaced"].includes(r.scope)) errs.push(notSupported(`${rp}.scope`, r.scope, ["*", "Cluster", "Namespaced"]));
      if ((r?.operations ?? []).includes("*") && r.operations.length > 1) errs.push(invalid(`${rp}.operations`, r.operations, "if '*' is present, must not specify other operations"));
    });
    if (w?.namespaceSelector) errs.push(...validateLabelSelector(w.namespaceSelector, `${p}.namespaceSelector`));
    if (w?.objectSelector) errs.push(...validateLabelSelector(w.objectSelector, `${p}.objectSelector`));
    if (w?.reinvocationPolicy !== undefined && !["Never", "IfNeeded"].includes(w.reinvocationPolicy)) errs.push(notSupported(`${p}.reinvocationPolicy`, w.reinvocationPolicy, ["IfNeeded", "Never"]));
    if ((w?.matchConditions ?? []).length > 64) errs.push(forbidden(`${p}.matchConditions`, "may not have more than 64 match conditions"));
  });
  return errs;
}

export const resources: ResourceDef[] = [
  {
    group: "admissionregistration.k8s.io",
    version: "v1",
    kind: "ValidatingWebhookConfiguration",
    plural: "validatingwebhookconfigurations",
    singular: "validatingwebhookconfiguration",
    namespaced: false,
    categories: ["api-extensions"],
    type: ValidatingWebhookConfiguration,
    defaults: defaults(false),
    validate,
    noGeneration: true,
  },
  {
    group: "admissionregistration.k8s.io",
    version: "v1",
    kind: "MutatingWebhookConfiguration",
    plural: "mutatingwebhookconfigurations",
    singular: "mutatingwebhookconfiguration",
    namespaced: false,
    categories: ["api-extensions"],
    type: MutatingWebhookConfiguration,
    defaults: defaults(true),
    validate,
    noGeneration: true,
  },
];
