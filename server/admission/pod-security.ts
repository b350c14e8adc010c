// PodSecurity: the namespace's pod-security.kubernetes.io/<mode>[-version] labels pick a level
// (privileged, baseline, restricted) per mode. enforce refuses a violating pod with the list
// of violations, warn admits it with a `Warning` (kubectl prints it), and workload objects
// (Deployments, Jobs, ...) get warnings for their pod template, as upstream does. audit admits
// too and puts the violations in the request's audit event (annotation
// pod-security.kubernetes.io/audit-violations), next to the enforce-policy that was applied.
import type { FieldError } from "../../schemas/registry";
import { forbidden, invalid } from "../errors";
import { violations, type Level } from "./pod-security-checks";
import type { AdmissionPlugin, AdmissionRequest } from "./types";

const PREFIX = "pod-security.kubernetes.io/";
const LEVELS = ["privileged", "baseline", "restricted"];
const MODES = ["enforce", "audit", "warn"] as const;
type Mode = (typeof MODES)[number];

/** Where each workload kind keeps its pod template. */
const TEMPLATES: Record<string, (o: any) => any> = {
  "apps/deployments": (o) => o?.spec?.template,
  "apps/replicasets": (o) => o?.spec?.template,
  "apps/statefulsets": (o) => o?.spec?.template,
  "apps/daemonsets": (o) => o?.spec?.template,
  "batch/jobs": (o) => o?.spec?.template,
  "batch/cronjobs": (o) => o?.spec?.jobTemplate?.spec?.template,
  "/replicationcontrollers": (o) => o?.spec?.template,
  "/podtemplates": (o) => o?.template,
};

const keyOf = (req: AdmissionRequest) => `${req.resource.group}/${req.resource.plural}`;

interface Policy {
  level: Level;
  version: string;
}

function policyOf(labels: Record<string, string> | undefined, mode: Mode): Policy {
  const level = labels?.[`${PREFIX}${mode}`];
  const version = labels?.[`${PREFIX}${mode}-version`];
  return { level: (LEVELS.includes(level ?? "") ? level : "privileged") as Level, version: version && /^v1\.\d+$/.test(version) ? version : "latest" };
}

const show = (p: Policy) => `"${p.level}:${p.version}"`;

function describe(level: Level, meta: any, spec: any): string | undefined {
  const v = violations(level, meta, spec);
  return v.length ? v.map((x) => `${x.reason} (${x.detail})`).join(", ") : undefined;
}

export const podSecurity: AdmissionPlugin = {
  name: "PodSecurity",
  handles: (req) =>
    // Ephemeral containers are judged like the others (upstream checks pods/ephemeralcontainers too).
    (req.subresource === "" || (req.subresource === "ephemeralcontainers" && req.resource.plural === "pods")) &&
    (req.operation === "CREATE" || req.operation === "UPDATE") &&
    ((req.resource.group === "" && (req.resource.plural === "pods" || req.resource.plural === "namespaces")) || keyOf(req) in TEMPLATES),

  validate(req) {
    if (req.resource.group === "" && req.resource.plural === "namespaces") return validateLabels(req);
    const ns = req.store.get("namespaces", "", req.namespace)?.obj;
    const labels = ns?.metadata?.labels;
    if (!labels || !Object.keys(labels).some((k) => k.startsWith(PREFIX))) return;
    const enforce = policyOf(labels, "enforce");
    const warn = policyOf(labels, "warn");
    const audit = policyOf(labels, "audit");
    if (req.resource.group === "" && req.resource.plural === "pods") {
      // Updates that leave the spec alone (labels, annotations, status) are not judged again.
      if (req.operation === "UPDATE" && JSON.stringify(req.object?.spec) === JSON.stringify(req.oldObject?.spec)) return;
      const bad = describe(enforce.level, req.object.metadata, req.object.spec);
      req.annotate?.(`${PREFIX}enforce-policy`, show(enforce).slice(1, -1));
      // Audited even when enforce refuses the pod, as upstream does.
      const audited = show(audit) === show(enforce) ? bad : describe(audit.level, req.object.metadata, req.object.spec);
      if (audited) req.annotate?.(`${PREFIX}audit-violations`, `would violate PodSecurity ${show(audit)}: ${audited}`);
      if (bad) throw forbidden(`pods "${req.name}" is forbidden: violates PodSecurity ${show(enforce)}: ${bad}`);
      if (show(warn) !== show(enforce)) {
        const w = describe(warn.level, req.object.metadata, req.object.spec);
        if (w) req.warn(`would violate PodSecurity ${show(warn)}: ${w}`);
      }
      return;
    }
    const template = TEMPLATES[keyOf(req)]!(req.object);
    if (!template) return;
    if (req.operation === "UPDATE" && JSON.stringify(template) === JSON.stringify(TEMPLATES[keyOf(req)]!(req.oldObject))) return;
    const a = describe(audit.level, template.metadata, template.spec);
    if (a) req.annotate?.(`${PREFIX}audit-violations`, `would violate PodSecurity ${show(audit)}: ${a}`);
    const seen = new Set<string>();
    for (const p of [enforce, warn]) {
      if (seen.has(show(p))) continue;
      seen.add(show(p));
      const w = describe(p.level, template.metadata, template.spec);
      if (w) req.warn(`would violate PodSecurity ${show(p)}: ${w}`);
    }
  },
};

/** A namespace's pod-security labels must name a level and a version. */
function validateLabels(req: AdmissionRequest): void {
  const labels: Record<string, string> = req.object?.metadata?.labels ?? {};
  const errs: FieldError[] = [];
  for (const mode of MODES) {
    const level = labels[`${PREFIX}${mode}`];
    if (level !== undefined && !LEVELS.includes(level))
      errs.push({ field: `metadata.labels[${PREFIX}${mode}]`, type: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(level)}: must be one of privileged, baseline, restricted` });
    const version = labels[`${PREFIX}${mode}-version`];
    if (version !== undefined && version !== "latest" && !/^v1\.(0|[1-9]\d*)$/.test(version))
      errs.push({ field: `metadata.labels[${PREFIX}${mode}-version]`, type: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(version)}: must be "latest" or "v1.x"` });
  }
  if (errs.length) throw invalid(req.resource, req.name, errs);
  // Tightening enforce warns about the pods already there that the new level would refuse.
  const enforce = policyOf(labels, "enforce");
  if (req.operation !== "UPDATE" || show(enforce) === show(policyOf(req.oldObject?.metadata?.labels, "enforce")) || enforce.level === "privileged") return;
  const bad: string[] = [];
  for (const p of req.store.list("pods", req.name).items) {
    const v = violations(enforce.level, p.metadata, p.spec);
    if (v.length) bad.push(`${p.metadata.name}: ${v.map((x) => x.reason).join(", ")}`);
  }
  if (!bad.length) return;
  req.warn(`existing pods in namespace "${req.name}" violate the new PodSecurity enforce level ${show(enforce)}`);
  for (const line of bad.slice(0, 10)) req.warn(line);
}
