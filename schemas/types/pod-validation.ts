// Pod validation, following pkg/apis/core/validation/validation.go (ValidatePodCreate,
// ValidatePodSpec, ValidatePodUpdate) for the checks that matter in practice, with the same
// field paths, cause types and messages. Kinds embedding a pod template (Deployment, Job, ...)
// call validatePodTemplateSpec with their own path.
import type { FieldError } from "../registry";
import {
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  duplicate,
  envVarNameErrors,
  forbidden,
  invalid,
  isEmpty,
  isValidPortNum,
  labelValueErrors,
  notFound,
  notSupported,
  parseQuantity,
  portNameErrors,
  portRangeMessage,
  qualifiedNameErrors,
  quantityFormatMessage,
  required,
  validateAnnotations,
  validateLabels,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from "../validation";
import { deepEqual, isObj } from "../helpers/json";

const arr = (v: unknown): any[] => (Array.isArray(v) ? v : []);
/** Go's zero value, as a decoded JSON field shows it (absent, "", 0, false, empty list or struct). */
const isZero = (v: unknown): boolean =>
  isEmpty(v) || v === 0 || v === false || (Array.isArray(v) ? v.length === 0 : isObj(v) && Object.values(v).every(isZero));

const volumeSourceNames = [
  "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
  "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
  "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
  "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image",
];

const fileModeMessage = "must be a number between 0 and 0777 (octal), both inclusive";
const restartPolicies = ["Always", "OnFailure", "Never"];
const dnsPolicies = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
const pullPolicies = ["Always", "IfNotPresent", "Never"];
const portProtocols = ["SCTP", "TCP", "UDP"];
const taintEffects = ["NoExecute", "NoSchedule", "PreferNoSchedule"];
const hostPathTypes = ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"];
const nodeSelectorOps = ["DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn"];
const labelSelectorOps = ["DoesNotExist", "Exists", "In", "NotIn"];
const maxInt32 = 2147483647;

function checkMode(errs: FieldError[], path: string, mode: unknown) {
  if (mode === undefined || mode === null) return;
  if (typeof mode !== "number" || mode < 0 || mode > 0o777) errs.push(invalid(path, mode, fileModeMessage));
}

function checkRelativePath(errs: FieldError[], path: string, p: unknown) {
  if (typeof p !== "string") return;
  if (p.startsWith("/")) errs.push(invalid(path, p, "must be a relative path"));
  if (p.split("/").includes("..")) errs.push(invalid(path, p, "must not contain '..'"));
}

function checkKeyToPaths(errs: FieldError[], path: string, items: unknown) {
  arr(items).forEach((it, i) => {
    const p = `${path}[${i}]`;
    if (isEmpty(it?.key)) errs.push(required(`${p}.key`));
    if (isEmpty(it?.path)) errs.push(required(`${p}.path`));
    else {
      checkRelativePath(errs, `${p}.path`, it.path);
      if (String(it.path).startsWith("..")) errs.push(invalid(`${p}.path`, it.path, "must not start with '..'"));
    }
    checkMode(errs, `${p}.mode`, it?.mode);
  });
}

function validateVolumeSource(errs: FieldError[], v: any, p: string) {
  const set = volumeSourceNames.filter((k) => v[k] !== undefined && v[k] !== null);
  if (set.length === 0) errs.push(required(p, "must specify a volume type"));
  for (const k of set.slice(1)) errs.push(forbidden(`${p}.${k}`, "may not specify more than 1 volume type"));
  if (isObj(v.hostPath)) {
    if (isEmpty(v.hostPath.path)) errs.push(required(`${p}.hostPath.path`));
    if (v.hostPath.type !== undefined && !hostPathTypes.includes(v.hostPath.type))
      errs.push(notSupported(`${p}.hostPath.type`, v.hostPath.type, hostPathTypes));
  }
  if (isObj(v.emptyDir)) {
    if (!isEmpty(v.emptyDir.medium) && !["Memory", "HugePages"].includes(v.emptyDir.medium) && !String(v.emptyDir.medium).startsWith("HugePages-"))
      errs.push(notSupported(`${p}.emptyDir.medium`, v.emptyDir.medium, ["", "Memory", "HugePages"]));
  }
  if (isObj(v.secret)) {
    checkMode(errs, `${p}.secret.defaultMode`, v.secret.defaultMode);
    if (!isEmpty(v.secret.secretName))
      for (const m of dns1123SubdomainErrors(String(v.secret.secretName))) errs.push(invalid(`${p}.secret.secretName`, v.secret.secretName, m));
    checkKeyToPaths(errs, `${p}.secret.items`, v.secret.items);
  }
  if (isObj(v.configMap)) {
    checkMode(errs, `${p}.configMap.defaultMode`, v.configMap.defaultMode);
    if (isEmpty(v.configMap.name)) errs.push(required(`${p}.configMap.name`));
    else for (const m of dns1123SubdomainErrors(String(v.configMap.name))) errs.push(invalid(`${p}.configMap.name`, v.configMap.name, m));
    checkKeyToPaths(errs, `${p}.configMap.items`, v.configMap.items);
  }
  if (isObj(v.downwardAPI)) {
    checkMode(errs, `${p}.downwardAPI.defaultMode`, v.downwardAPI.defaultMode);
    arr(v.downwardAPI.items).forEach((it, i) => {
      const ip = `${p}.downwardAPI.items[${i}]`;
      if (isEmpty(it?.path)) errs.push(required(`${ip}.path`));
      else checkRelativePath(errs, `${ip}.path`, it.path);
      checkMode(errs, `${ip}.mode`, it?.mode);
    });
  }
  if (isObj(v.projected)) {
    checkMode(errs, `${p}.projected.defaultMode`, v.projected.defaultMode);
    arr(v.projected.sources).forEach((src, i) => {
      const sp = `${p}.projected.sources[${i}]`;
      const kinds = ["secret", "downwardAPI", "configMap", "serviceAccountToken", "clusterTrustBundle", "podCertificate"].filter(
        (k) => src?.[k] !== undefined && src?.[k] !== null,
      );
      if (kinds.length === 0) errs.push(required(sp, "must specify exactly 1 of: secret, downwardAPI, configMap, serviceAccountToken, clusterTrustBundle, podCertificate"));
      for (const k of kinds.slice(1)) errs.push(forbidden(`${sp}.${k}`, "may not specify more than 1 volume type per source"));
      if (isObj(src?.secret)) checkKeyToPaths(errs, `${sp}.secret.items`, src.secret.items);
      if (isObj(src?.configMap)) checkKeyToPaths(errs, `${sp}.configMap.items`, src.configMap.items);
      if (isObj(src?.serviceAccountToken)) {
        const t = src.serviceAccountToken;
        if (isEmpty(t.path)) errs.push(required(`${sp}.serviceAccountToken.path`));
        if (typeof t.expirationSeconds === "number" && t.expirationSeconds < 600)
          errs.push(invalid(`${sp}.serviceAccountToken.expirationSeconds`, t.expirationSeconds, "may not specify a duration less than 10 minutes"));
      }
    });
  }
  if (isObj(v.persistentVolumeClaim) && isEmpty(v.persistentVolumeClaim.claimName))
    errs.push(required(`${p}.persistentVolumeClaim.claimName`));
  if (isObj(v.nfs)) {
    if (isEmpty(v.nfs.server)) errs.push(required(`${p}.nfs.server`));
    if (isEmpty(v.nfs.path)) errs.push(required(`${p}.nfs.path`));
    else if (!String(v.nfs.path).startsWith("/")) errs.push(invalid(`${p}.nfs.path`, v.nfs.path, "must be an absolute path"));
  }
  if (isObj(v.csi) && isEmpty(v.csi.driver)) errs.push(required(`${p}.csi.driver`));
  if (isObj(v.ephemeral) && !isObj(v.ephemeral.volumeClaimTemplate)) errs.push(required(`${p}.ephemeral.volumeClaimTemplate`));
}

function validateResources(errs: FieldError[], res: any, p: string) {
  if (!isObj(res)) return;
  const check = (kind: "limits" | "requests") => {
    const m = res[kind];
    if (!isObj(m)) return;
    for (const [k, q] of Object.entries(m)) {
      const qp = `${p}.${kind}[${k}]`;
      if (!["cpu", "memory", "ephemeral-storage", "storage"].includes(k) && !k.startsWith("hugepages-")) {
        if (!k.includes("/")) errs.push(invalid(qp, k, "must be a standard resource type or fully qualified"));
        else for (const msg of qualifiedNameErrors(k)) errs.push(invalid(qp, k, msg));
      }
      const v = parseQuantity(q);
      if (Number.isNaN(v)) errs.push(invalid(qp, q, quantityFormatMessage));
      else if (v < 0) errs.push(invalid(qp, String(q), "must be greater than or equal to 0"));
    }
  };
  check("limits");
  check("requests");
  if (isObj(res.limits) && isObj(res.requests)) {
    for (const [k, rq] of Object.entries(res.requests)) {
      const lq = res.limits[k];
      if (lq === undefined) continue;
      const r = parseQuantity(rq);
      const l = parseQuantity(lq);
      if (!Number.isNaN(r) && !Number.isNaN(l) && r > l)
        errs.push(invalid(`${p}.requests`, String(rq), `must be less than or equal to ${k} limit of ${String(lq)}`));
    }
  }
}

function validateProbe(errs: FieldError[], probe: any, p: string, mustHaveSuccessOne: boolean) {
  if (!isObj(probe)) return;
  const handlers = ["exec", "httpGet", "tcpSocket", "grpc"].filter((k) => probe[k] !== undefined && probe[k] !== null);
  if (handlers.length === 0) errs.push(required(p, "must specify a handler type"));
  for (const k of handlers.slice(1)) errs.push(forbidden(`${p}.${k}`, "may not specify more than 1 handler type"));
  for (const k of ["initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"])
    if (typeof probe[k] === "number" && probe[k] < 0) errs.push(invalid(`${p}.${k}`, probe[k], "must be greater than or equal to 0"));
  if (mustHaveSuccessOne && typeof probe.successThreshold === "number" && probe.successThreshold !== 1)
    errs.push(invalid(`${p}.successThreshold`, probe.successThreshold, "must be 1"));
  if (typeof probe.terminationGracePeriodSeconds === "number" && probe.terminationGracePeriodSeconds <= 0)
    errs.push(invalid(`${p}.terminationGracePeriodSeconds`, probe.terminationGracePeriodSeconds, "must be greater than 0"));
  validatePortRef(errs, probe.httpGet?.port, `${p}.httpGet.port`, isObj(probe.httpGet));
  validatePortRef(errs, probe.tcpSocket?.port, `${p}.tcpSocket.port`, isObj(probe.tcpSocket));
  if (isObj(probe.httpGet) && !isEmpty(probe.httpGet.scheme) && !["HTTP", "HTTPS"].includes(probe.httpGet.scheme))
    errs.push(notSupported(`${p}.httpGet.scheme`, probe.httpGet.scheme, ["HTTP", "HTTPS"]));
  if (isObj(probe.grpc) && !isValidPortNum(probe.grpc.port)) errs.push(invalid(`${p}.grpc.port`, probe.grpc.port, portRangeMessage));
}

/** An IntOrString port: a number in range or an IANA service name. */
function validatePortRef(errs: FieldError[], port: unknown, p: string, present: boolean) {
  if (!present) return;
  if (typeof port === "number") {
    if (!isValidPortNum(port)) errs.push(invalid(p, port, portRangeMessage));
  } else if (typeof port === "string") {
    if (/^[0-9]+$/.test(port)) {
      if (!isValidPortNum(Number(port))) errs.push(invalid(p, port, portRangeMessage));
    } else for (const m of portNameErrors(port)) errs.push(invalid(p, port, m));
  } else errs.push(required(p));
}

type ContainerKind = "init" | "regular" | "ephemeral";

function validateContainer(
  errs: FieldError[],
  c: any,
  p: string,
  kind: ContainerKind,
  volumes: Map<string, any>,
) {
  if (!isObj(c)) {
    errs.push(required(p));
    return;
  }
  if (isEmpty(c.image)) errs.push(required(`${p}.image`));
  else if (String(c.image).trim() !== String(c.image))
    errs.push(invalid(`${p}.image`, c.image, "must not have leading or trailing whitespace"));
  if (!isEmpty(c.imagePullPolicy) && !pullPolicies.includes(c.imagePullPolicy))
    errs.push(notSupported(`${p}.imagePullPolicy`, c.imagePullPolicy, pullPolicies));
  if (!isEmpty(c.terminationMessagePolicy) && !["File", "FallbackToLogsOnError"].includes(c.terminationMessagePolicy))
    errs.push(notSupported(`${p}.terminationMessagePolicy`, c.terminationMessagePolicy, ["File", "FallbackToLogsOnError"]));

  // Ports.
  const portNames = new Set<string>();
  arr(c.ports).forEach((port, i) => {
    const pp = `${p}.ports[${i}]`;
    if (!isObj(port)) return;
    if (!isEmpty(port.name)) {
      for (const m of portNameErrors(String(port.name))) errs.push(invalid(`${pp}.name`, port.name, m));
      if (portNames.has(port.name)) errs.push(duplicate(`${pp}.name`, port.name));
      portNames.add(port.name);
    }
    if (port.containerPort === undefined || port.containerPort === 0) errs.push(required(`${pp}.containerPort`));
    else if (!isValidPortNum(port.containerPort)) errs.push(invalid(`${pp}.containerPort`, port.containerPort, portRangeMessage));
    if (port.hostPort !== undefined && port.hostPort !== 0 && !isValidPortNum(port.hostPort))
      errs.push(invalid(`${pp}.hostPort`, port.hostPort, portRangeMessage));
    if (isEmpty(port.protocol)) errs.push(required(`${pp}.protocol`));
    else if (!portProtocols.includes(port.protocol)) errs.push(notSupported(`${pp}.protocol`, port.protocol, portProtocols));
  });

  // Environment.
  arr(c.env).forEach((e, i) => {
    const ep = `${p}.env[${i}]`;
    if (isEmpty(e?.name)) errs.push(required(`${ep}.name`));
    else for (const m of envVarNameErrors(String(e.name))) errs.push(invalid(`${ep}.name`, e.name, m));
    if (isObj(e?.valueFrom)) {
      const vf = e.valueFrom;
      const srcs = ["fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef"].filter(
        (k) => vf[k] !== undefined && vf[k] !== null,
      );
      if (srcs.length === 0)
        errs.push(invalid(`${ep}.valueFrom`, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
      else if (srcs.length > 1) errs.push(invalid(`${ep}.valueFrom`, "", "may not have more than one field specified at a time"));
      if (!isEmpty(e.value)) errs.push(invalid(`${ep}.valueFrom`, "", "may not be specified when `value` is not empty"));
      if (isObj(vf.fieldRef) && isEmpty(vf.fieldRef.fieldPath)) errs.push(required(`${ep}.valueFrom.fieldRef.fieldPath`));
      if (isObj(vf.resourceFieldRef) && isEmpty(vf.resourceFieldRef.resource)) errs.push(required(`${ep}.valueFrom.resourceFieldRef.resource`));
      for (const k of ["configMapKeyRef", "secretKeyRef"]) {
        if (!isObj(vf[k])) continue;
        if (isEmpty(vf[k].name)) errs.push(required(`${ep}.valueFrom.${k}.name`));
        if (isEmpty(vf[k].key)) errs.push(required(`${ep}.valueFrom.${k}.key`));
      }
    }
  });
  arr(c.envFrom).forEach((e, i) => {
    const ep = `${p}.envFrom[${i}]`;
    const n = (isObj(e?.configMapRef) ? 1 : 0) + (isObj(e?.secretRef) ? 1 : 0);
    if (n === 0) errs.push(invalid(ep, "", "must specify one of: `configMapRef` or `secretRef`"));
    else if (n > 1) errs.push(invalid(ep, "", "may not have more than one field specified at a time"));
    if (!isEmpty(e?.prefix)) for (const m of envVarNameErrors(String(e.prefix))) errs.push(invalid(`${ep}.prefix`, e.prefix, m));
  });

  // Volume mounts and devices.
  const mountPaths = new Set<string>();
  arr(c.volumeMounts).forEach((m, i) => {
    const mp = `${p}.volumeMounts[${i}]`;
    if (isEmpty(m?.name)) errs.push(required(`${mp}.name`));
    else if (!volumes.has(m.name)) errs.push(notFound(`${mp}.name`, m.name));
    if (isEmpty(m?.mountPath)) errs.push(required(`${mp}.mountPath`));
    else {
      if (mountPaths.has(m.mountPath)) errs.push(invalid(`${mp}.mountPath`, m.mountPath, "must be unique"));
      mountPaths.add(m.mountPath);
    }
    if (!isEmpty(m?.subPath)) checkRelativePath(errs, `${mp}.subPath`, m.subPath);
    if (!isEmpty(m?.subPath) && !isEmpty(m?.subPathExpr)) errs.push(invalid(`${mp}.subPathExpr`, m.subPathExpr, "subPathExpr and subPath are mutually exclusive"));
    if (!isEmpty(m?.mountPropagation) && !["None", "HostToContainer", "Bidirectional"].includes(m.mountPropagation))
      errs.push(notSupported(`${mp}.mountPropagation`, m.mountPropagation, ["Bidirectional", "HostToContainer", "None"]));
    if (!isEmpty(m?.recursiveReadOnly)) {
      if (!["Disabled", "IfPossible", "Enabled"].includes(m.recursiveReadOnly))
        errs.push(notSupported(`${mp}.recursiveReadOnly`, m.recursiveReadOnly, ["Disabled", "Enabled", "IfPossible"]));
      else if (m.recursiveReadOnly !== "Disabled" && m.readOnly !== true)
        errs.push(forbidden(`${mp}.recursiveReadOnly`, "may only be specified when readOnly is true"));
    }
  });
  arr(c.volumeDevices).forEach((d, i) => {
    const dp = `${p}.volumeDevices[${i}]`;
    if (isEmpty(d?.name)) errs.push(required(`${dp}.name`));
    else if (!volumes.has(d.name)) errs.push(notFound(`${dp}.name`, d.name));
    if (isEmpty(d?.devicePath)) errs.push(required(`${dp}.devicePath`));
    else if (mountPaths.has(d.devicePath)) errs.push(invalid(`${dp}.devicePath`, d.devicePath, "must not be already mounted into a container"));
  });

  // Probes and lifecycle: where they may appear depends on the container kind.
  const sidecar = kind === "init" && c.restartPolicy === "Always";
  if (kind === "init") {
    if (!isEmpty(c.restartPolicy) && c.restartPolicy !== "Always")
      errs.push(notSupported(`${p}.restartPolicy`, c.restartPolicy, ["Always"]));
    if (!sidecar) {
      if (c.lifecycle) errs.push(forbidden(`${p}.lifecycle`, "may not be set for init containers without restartPolicy=Always"));
      if (c.livenessProbe) errs.push(forbidden(`${p}.livenessProbe`, "may not be set for init containers without restartPolicy=Always"));
      if (c.readinessProbe) errs.push(forbidden(`${p}.readinessProbe`, "may not be set for init containers without restartPolicy=Always"));
      if (c.startupProbe) errs.push(forbidden(`${p}.startupProbe`, "may not be set for init containers without restartPolicy=Always"));
    }
  } else if (kind === "regular") {
    if (!isEmpty(c.restartPolicy) && !restartPolicies.includes(c.restartPolicy))
      errs.push(notSupported(`${p}.restartPolicy`, c.restartPolicy, restartPolicies));
  } else {
    // Upstream keeps an allow-list: fields that make a container part of the workload (ports,
    // probes, lifecycle, resources, restart rules) are refused when set to a non-zero value.
    for (const k of ["ports", "resizePolicy", "restartPolicy", "lifecycle", "livenessProbe", "readinessProbe", "startupProbe", "resources"])
      if (!isZero(c[k])) errs.push(forbidden(`${p}.${k}`, "cannot be set for an Ephemeral Container"));
    // subPath mounts are bind mounts that outlive the container until the pod goes.
    arr(c.volumeMounts).forEach((m, i) => {
      for (const k of ["subPath", "subPathExpr"])
        if (!isEmpty(m?.[k])) errs.push(forbidden(`${p}.volumeMounts[${i}].${k}`, "cannot be set for an Ephemeral Container"));
    });
  }
  if (kind !== "ephemeral") {
    validateProbe(errs, c.livenessProbe, `${p}.livenessProbe`, true);
    validateProbe(errs, c.readinessProbe, `${p}.readinessProbe`, false);
    validateProbe(errs, c.startupProbe, `${p}.startupProbe`, true);
    for (const hook of ["postStart", "preStop"]) {
      const h = c.lifecycle?.[hook];
      if (!isObj(h)) continue;
      const hp = `${p}.lifecycle.${hook}`;
      const handlers = ["exec", "httpGet", "tcpSocket", "sleep"].filter((k) => h[k] !== undefined && h[k] !== null);
      if (handlers.length === 0) errs.push(required(hp, "must specify a handler type"));
      for (const k of handlers.slice(1)) errs.push(forbidden(`${hp}.${k}`, "may not specify more than 1 handler type"));
      validatePortRef(errs, h.httpGet?.port, `${hp}.httpGet.port`, isObj(h.httpGet));
      if (isObj(h.sleep) && (typeof h.sleep.seconds !== "number" || h.sleep.seconds < 0))
        errs.push(invalid(`${hp}.sleep.seconds`, h.sleep.seconds, "must be non-negative"));
    }
  }
  validateResources(errs, c.resources, `${p}.resources`);
  if (c.stdinOnce === true && c.stdin !== true) errs.push(forbidden(`${p}.stdinOnce`, "stdinOnce may only be set when stdin is true"));
}

function validateNodeSelector(errs: FieldError[], ns: any, p: string) {
  if (!isObj(ns)) return;
  const terms = arr(ns.nodeSelectorTerms);
  if (terms.length === 0) errs.push(required(`${p}.nodeSelectorTerms`, "must have at least one node selector term"));
  terms.forEach((t, i) => {
    const tp = `${p}.nodeSelectorTerms[${i}]`;
    for (const key of ["matchExpressions", "matchFields"]) {
      arr(t?.[key]).forEach((r, j) => {
        const rp = `${tp}.${key}[${j}]`;
        if (!nodeSelectorOps.includes(r?.operator)) errs.push(notSupported(`${rp}.operator`, r?.operator ?? "", nodeSelectorOps));
        const vals = arr(r?.values);
        if ((r?.operator === "In" || r?.operator === "NotIn") && vals.length === 0)
          errs.push(required(`${rp}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
        if ((r?.operator === "Exists" || r?.operator === "DoesNotExist") && vals.length > 0)
          errs.push(forbidden(`${rp}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        if (key === "matchExpressions") for (const m of qualifiedNameErrors(String(r?.key ?? ""))) errs.push(invalid(`${rp}.key`, r?.key ?? "", m));
      });
    }
  });
}

function validateLabelSelector(errs: FieldError[], sel: any, p: string) {
  if (!isObj(sel)) return;
  arr(sel.matchExpressions).forEach((r, i) => {
    const rp = `${p}.matchExpressions[${i}]`;
    if (!labelSelectorOps.includes(r?.operator)) errs.push(notSupported(`${rp}.operator`, r?.operator ?? "", labelSelectorOps));
    const vals = arr(r?.values);
    if ((r?.operator === "In" || r?.operator === "NotIn") && vals.length === 0)
      errs.push(required(`${rp}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
    if ((r?.operator === "Exists" || r?.operator === "DoesNotExist") && vals.length > 0)
      errs.push(forbidden(`${rp}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    for (const m of qualifiedNameErrors(String(r?.key ?? ""))) errs.push(invalid(`${rp}.key`, r?.key ?? "", m));
  });
  errs.push(...validateLabels(sel.matchLabels, `${p}.matchLabels`));
}

function validatePodAffinityTerm(errs: FieldError[], t: any, p: string) {
  if (isEmpty(t?.topologyKey)) errs.push(required(`${p}.topologyKey`, "can not be empty"));
  else for (const m of qualifiedNameErrors(String(t.topologyKey))) errs.push(invalid(`${p}.topologyKey`, t.topologyKey, m));
  validateLabelSelector(errs, t?.labelSelector, `${p}.labelSelector`);
  validateLabelSelector(errs, t?.namespaceSelector, `${p}.namespaceSelector`);
  arr(t?.namespaces).forEach((ns, i) => {
    for (const m of dns1123LabelErrors(String(ns))) errs.push(invalid(`${p}.namespaces[${i}]`, ns, m));
  });
}

function validateAffinity(errs: FieldError[], a: any, p: string) {
  if (!isObj(a)) return;
  const na = a.nodeAffinity;
  if (isObj(na)) {
    validateNodeSelector(errs, na.requiredDuringSchedulingIgnoredDuringExecution, `${p}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`);
    arr(na.preferredDuringSchedulingIgnoredDuringExecution).forEach((t, i) => {
      const tp = `${p}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[${i}]`;
      if (typeof t?.weight !== "number" || t.weight < 1 || t.weight > 100) errs.push(invalid(`${tp}.weight`, t?.weight ?? 0, "must be in the range 1-100"));
    });
  }
  for (const key of ["podAffinity", "podAntiAffinity"]) {
    const pa = a[key];
    if (!isObj(pa)) continue;
    arr(pa.requiredDuringSchedulingIgnoredDuringExecution).forEach((t, i) =>
      validatePodAffinityTerm(errs, t, `${p}.${key}.requiredDuringSchedulingIgnoredDuringExecution[${i}]`),
    );
    arr(pa.preferredDuringSchedulingIgnoredDuringExecution).forEach((t, i) => {
      const tp = `${p}.${key}.preferredDuringSchedulingIgnoredDuringExecution[${i}]`;
      if (typeof t?.weight !== "number" || t.weight < 1 || t.weight > 100) errs.push(invalid(`${tp}.weight`, t?.weight ?? 0, "must be in the range 1-100"));
      validatePodAffinityTerm(errs, t?.podAffinityTerm, `${tp}.podAffinityTerm`);
    });
  }
}

export function validateTolerations(tolerations: unknown, p: string): FieldError[] {
  const errs: FieldError[] = [];
  arr(tolerations).forEach((t, i) => {
    const tp = `${p}[${i}]`;
    if (!isObj(t)) return;
    if (!isEmpty(t.key)) for (const m of qualifiedNameErrors(String(t.key))) errs.push(invalid(`${tp}.key`, t.key, m));
    if (isEmpty(t.key) && t.operator !== "Exists")
      errs.push(invalid(`${tp}.operator`, t.operator ?? "", 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null && t.effect !== "NoExecute")
      errs.push(invalid(`${tp}.effect`, t.effect ?? "", "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    switch (t.operator ?? "") {
      case "":
      case "Equal": {
        const msgs = labelValueErrors(String(t.value ?? ""));
        if (msgs.length) errs.push(invalid(`${tp}.operator`, t.value ?? "", msgs.join(";")));
        break;
      }
      case "Exists":
        if (!isEmpty(t.value)) errs.push(invalid(`${tp}.operator`, t, "value must be empty when `operator` is 'Exists'"));
        break;
      default:
        errs.push(notSupported(`${tp}.operator`, t.operator, ["Equal", "Exists"]));
    }
    if (!isEmpty(t.effect) && !taintEffects.includes(t.effect)) errs.push(notSupported(`${tp}.effect`, t.effect, taintEffects));
  });
  return errs;
}

export interface PodSpecOptions {
  /** Validating the spec of a template (Deployment, Job...): ephemeral containers are forbidden. */
  template?: boolean;
}

/** ValidatePodSpec: `p` is the path of the spec ("spec" or "spec.template.spec"). */
export function validatePodSpec(spec: any, p: string, opts: PodSpecOptions = {}): FieldError[] {
  const errs: FieldError[] = [];
  if (!isObj(spec)) return [required(p)];

  // Volumes.
  const volumes = new Map<string, any>();
  arr(spec.volumes).forEach((v, i) => {
    const vp = `${p}.volumes[${i}]`;
    if (!isObj(v)) return errs.push(required(vp));
    if (isEmpty(v.name)) errs.push(required(`${vp}.name`));
    else {
      for (const m of dns1123LabelErrors(String(v.name))) errs.push(invalid(`${vp}.name`, v.name, m));
      if (volumes.has(v.name)) errs.push(duplicate(`${vp}.name`, v.name));
      volumes.set(v.name, v);
    }
    validateVolumeSource(errs, v, vp);
  });

  // Containers: names are unique across init, regular and ephemeral containers.
  const names = new Set<string>();
  const checkName = (c: any, cp: string) => {
    if (isEmpty(c?.name)) return errs.push(required(`${cp}.name`));
    for (const m of dns1123LabelErrors(String(c.name))) errs.push(invalid(`${cp}.name`, c.name, m));
    if (names.has(c.name)) errs.push(duplicate(`${cp}.name`, c.name));
    names.add(c.name);
  };
  arr(spec.initContainers).forEach((c, i) => {
    const cp = `${p}.initContainers[${i}]`;
    checkName(c, cp);
    validateContainer(errs, c, cp, "init", volumes);
  });
  if (arr(spec.containers).length === 0) errs.push(required(`${p}.containers`));
  arr(spec.containers).forEach((c, i) => {
    const cp = `${p}.containers[${i}]`;
    checkName(c, cp);
    validateContainer(errs, c, cp, "regular", volumes);
  });
  if (opts.template && arr(spec.ephemeralContainers).length)
    errs.push(forbidden(`${p}.ephemeralContainers`, "ephemeral containers not allowed in pod template"));
  const targets = new Set([...arr(spec.initContainers), ...arr(spec.containers)].map((c) => c?.name));
  arr(spec.ephemeralContainers).forEach((c, i) => {
    const cp = `${p}.ephemeralContainers[${i}]`;
    checkName(c, cp);
    validateContainer(errs, c, cp, "ephemeral", volumes);
    // The target shares its namespaces with the ephemeral container: it must be a regular or init one.
    if (!isEmpty(c?.targetContainerName) && !targets.has(c.targetContainerName))
      errs.push(notFound(`${cp}.targetContainerName`, c.targetContainerName));
  });

  // Pod-level fields.
  if (isEmpty(spec.restartPolicy)) errs.push(required(`${p}.restartPolicy`));
  else if (!restartPolicies.includes(spec.restartPolicy)) errs.push(notSupported(`${p}.restartPolicy`, spec.restartPolicy, restartPolicies));
  if (isEmpty(spec.dnsPolicy)) errs.push(required(`${p}.dnsPolicy`));
  else if (!dnsPolicies.includes(spec.dnsPolicy)) errs.push(notSupported(`${p}.dnsPolicy`, spec.dnsPolicy, dnsPolicies));
  if (spec.dnsPolicy === "None" && !isObj(spec.dnsConfig))
    errs.push(required(`${p}.dnsConfig`, "must provide `dnsConfig` when `dnsPolicy` is None"));
  if (isObj(spec.dnsConfig)) {
    const ns = arr(spec.dnsConfig.nameservers);
    if (spec.dnsPolicy === "None" && ns.length === 0)
      errs.push(required(`${p}.dnsConfig.nameservers`, "must provide at least one DNS nameserver when `dnsPolicy` is None"));
    if (ns.length > 3) errs.push(invalid(`${p}.dnsConfig.nameservers`, ns, "must not have more than 3 nameservers"));
    ns.forEach((ip, i) => {
      if (!isValidIPString(ip)) errs.push(invalid(`${p}.dnsConfig.nameservers[${i}]`, ip, "must be a valid IP address"));
    });
    if (arr(spec.dnsConfig.searches).length > 32)
      errs.push(invalid(`${p}.dnsConfig.searches`, spec.dnsConfig.searches, "must not have more than 32 search paths"));
    arr(spec.dnsConfig.options).forEach((o, i) => {
      if (isEmpty(o?.name)) errs.push(required(`${p}.dnsConfig.options[${i}]`, "Option.Name must not be empty"));
    });
  }
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds !== null) {
    const v = spec.activeDeadlineSeconds;
    if (typeof v !== "number" || v < 1 || v > maxInt32)
      errs.push(invalid(`${p}.activeDeadlineSeconds`, v, `must be between 1 and ${maxInt32}, inclusive`));
  }
  errs.push(...validateLabels(spec.nodeSelector, `${p}.nodeSelector`));
  if (!isEmpty(spec.serviceAccountName))
    for (const m of dns1123SubdomainErrors(String(spec.serviceAccountName))) errs.push(invalid(`${p}.serviceAccountName`, spec.serviceAccountName, m));
  if (!isEmpty(spec.nodeName))
    for (const m of dns1123SubdomainErrors(String(spec.nodeName))) errs.push(invalid(`${p}.nodeName`, spec.nodeName, m));
  if (!isEmpty(spec.hostname)) for (const m of dns1123LabelErrors(String(spec.hostname))) errs.push(invalid(`${p}.hostname`, spec.hostname, m));
  if (!isEmpty(spec.subdomain)) for (const m of dns1123LabelErrors(String(spec.subdomain))) errs.push(invalid(`${p}.subdomain`, spec.subdomain, m));
  if (!isEmpty(spec.priorityClassName))
    for (const m of dns1123SubdomainErrors(String(spec.priorityClassName))) errs.push(invalid(`${p}.priorityClassName`, spec.priorityClassName, m));
  if (!isEmpty(spec.schedulerName))
    for (const m of dns1123SubdomainErrors(String(spec.schedulerName))) errs.push(invalid(`${p}.schedulerName`, spec.schedulerName, m));
  if (!isEmpty(spec.runtimeClassName))
    for (const m of dns1123SubdomainErrors(String(spec.runtimeClassName))) errs.push(invalid(`${p}.runtimeClassName`, spec.runtimeClassName, m));
  if (!isEmpty(spec.preemptionPolicy) && !["Never", "PreemptLowerPriority"].includes(spec.preemptionPolicy))
    errs.push(notSupported(`${p}.preemptionPolicy`, spec.preemptionPolicy, ["Never", "PreemptLowerPriority"]));
  if (spec.hostPID === true && spec.shareProcessNamespace === true)
    errs.push(invalid(`${p}.shareProcessNamespace`, true, "ShareProcessNamespace and HostPID cannot both be enabled"));
  errs.push(...validateTolerations(spec.tolerations, `${p}.tolerations`));
  validateAffinity(errs, spec.affinity, `${p}.affinity`);
  arr(spec.hostAliases).forEach((h, i) => {
    if (!isValidIPString(h?.ip)) errs.push(invalid(`${p}.hostAliases[${i}].ip`, h?.ip ?? "", "must be valid IP address"));
    arr(h?.hostnames).forEach((hn, j) => {
      for (const m of dns1123SubdomainErrors(String(hn))) errs.push(invalid(`${p}.hostAliases[${i}].hostnames[${j}]`, hn, m));
    });
  });
  arr(spec.imagePullSecrets).forEach((s, i) => {
    if (isEmpty(s?.name)) errs.push(required(`${p}.imagePullSecrets[${i}].name`));
  });
  arr(spec.readinessGates).forEach((g, i) => {
    for (const m of qualifiedNameErrors(String(g?.conditionType ?? ""))) errs.push(invalid(`${p}.readinessGates[${i}].conditionType`, g?.conditionType ?? "", m));
  });
  const gates = new Set<string>();
  arr(spec.schedulingGates).forEach((g, i) => {
    const gp = `${p}.schedulingGates[${i}].name`;
    for (const m of qualifiedNameErrors(String(g?.name ?? ""))) errs.push(invalid(gp, g?.name ?? "", m));
    if (gates.has(g?.name)) errs.push(duplicate(gp, g?.name));
    gates.add(g?.name);
  });
  if (isObj(spec.os) && !["linux", "windows"].includes(spec.os.name))
    errs.push(notSupported(`${p}.os.name`, spec.os.name ?? "", ["linux", "windows"]));
  const tsc = new Set<string>();
  arr(spec.topologySpreadConstraints).forEach((c, i) => {
    const cp = `${p}.topologySpreadConstraints[${i}]`;
    if (typeof c?.maxSkew !== "number" || c.maxSkew <= 0) errs.push(invalid(`${cp}.maxSkew`, c?.maxSkew ?? 0, "must be greater than zero"));
    if (isEmpty(c?.topologyKey)) errs.push(required(`${cp}.topologyKey`, "can not be empty"));
    else for (const m of qualifiedNameErrors(String(c.topologyKey))) errs.push(invalid(`${cp}.topologyKey`, c.topologyKey, m));
    if (!["DoNotSchedule", "ScheduleAnyway"].includes(c?.whenUnsatisfiable))
      errs.push(notSupported(`${cp}.whenUnsatisfiable`, c?.whenUnsatisfiable ?? "", ["DoNotSchedule", "ScheduleAnyway"]));
    if (c?.minDomains !== undefined && c?.minDomains !== null) {
      if (typeof c.minDomains !== "number" || c.minDomains <= 0) errs.push(invalid(`${cp}.minDomains`, c.minDomains, "must be greater than 0"));
      else if (c.whenUnsatisfiable !== "DoNotSchedule")
        errs.push(invalid(`${cp}.minDomains`, c.minDomains, "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway"));
    }
    const key = `${c?.topologyKey}\u0000${c?.whenUnsatisfiable}`;
    if (tsc.has(key)) errs.push(duplicate(cp, `{${c?.topologyKey}, ${c?.whenUnsatisfiable}}`));
    tsc.add(key);
    validateLabelSelector(errs, c?.labelSelector, `${cp}.labelSelector`);
  });
  if (isObj(spec.overhead)) validateResources(errs, { limits: spec.overhead }, `${p}.overhead`);
  validateResources(errs, spec.resources, `${p}.resources`);
  return errs;
}

function isValidIPString(v: unknown): boolean {
  if (typeof v !== "string") return false;
  const p4 = v.split(".");
  if (p4.length === 4 && p4.every((x) => /^(0|[1-9][0-9]{0,2})$/.test(x) && Number(x) <= 255)) return true;
  return v.includes(":") && /^[0-9a-fA-F:.]+$/.test(v) && (v.match(/::/g) ?? []).length <= 1;
}

/** ValidatePodTemplateSpec: labels/annotations of the template plus its spec. `p` is e.g. "spec.template". */
export function validatePodTemplateSpec(t: any, p: string, opts: PodSpecOptions = { template: true }): FieldError[] {
  if (!isObj(t)) return [required(p)];
  const errs: FieldError[] = [];
  errs.push(...validateLabels(t.metadata?.labels, `${p}.metadata.labels`));
  errs.push(...validateAnnotations(t.metadata?.annotations, `${p}.metadata.annotations`));
  errs.push(...validatePodSpec(t.spec, `${p}.spec`, { template: true, ...opts }));
  return errs;
}

export function validatePodTemplate(o: any, old?: any): FieldError[] {
  const errs = validateObjectMeta(o?.metadata, true, "subdomain");
  if (old) errs.push(...validateObjectMetaUpdate(o?.metadata, old?.metadata));
  errs.push(...validatePodTemplateSpec(o?.template, "template"));
  return errs;
}

// ---- updates ------------------------------------------------------------------------------

export const podUpdatableFieldsMessage =
  "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/** ValidatePodUpdate: metadata identity, and a spec that is immutable but for a few fields. */
export function validatePodUpdate(o: any, old: any): FieldError[] {
  const errs = validateObjectMetaUpdate(o?.metadata, old?.metadata);
  const spec = isObj(o?.spec) ? o.spec : {};
  const oldSpec = isObj(old?.spec) ? old.spec : {};
  const munged: Record<string, any> = structuredClone(spec);

  for (const key of ["containers", "initContainers"] as const) {
    const cur = arr(spec[key]);
    const prev = arr(oldSpec[key]);
    if (cur.length !== prev.length) {
      errs.push(forbidden(`spec.${key}`, "pod updates may not add or remove containers"));
      return errs;
    }
    munged[key] = cur.map((c, i) => (isObj(c) ? { ...structuredClone(c), image: prev[i]?.image } : c));
    if (cur.length === 0) munged[key] = oldSpec[key];
  }

  // activeDeadlineSeconds may be set, or lowered, never raised or removed.
  const ads = spec.activeDeadlineSeconds;
  const oldAds = oldSpec.activeDeadlineSeconds;
  if (ads !== undefined && ads !== null) {
    if (typeof oldAds === "number" && typeof ads === "number" && ads > oldAds)
      errs.push(invalid("spec.activeDeadlineSeconds", ads, "must be less than or equal to previous value"));
  } else if (typeof oldAds === "number") {
    errs.push(invalid("spec.activeDeadlineSeconds", ads ?? null, "must not update from a positive integer to nil value"));
  }
  munged.activeDeadlineSeconds = oldSpec.activeDeadlineSeconds;

  // Tolerations: only additions (and shortening tolerationSeconds of NoExecute ones).
  const tol = arr(spec.tolerations);
  arr(oldSpec.tolerations).forEach((ot, i) => {
    const same = tol.some(
      (t) =>
        t?.key === ot?.key && (t?.operator ?? "") === (ot?.operator ?? "") && (t?.value ?? "") === (ot?.value ?? "") &&
        (t?.effect ?? "") === (ot?.effect ?? "") &&
        (deepEqual(t?.tolerationSeconds, ot?.tolerationSeconds) ||
          (ot?.effect === "NoExecute" && typeof t?.tolerationSeconds === "number" && typeof ot?.tolerationSeconds === "number" && t.tolerationSeconds <= ot.tolerationSeconds)),
    );
    if (!same) errs.push(forbidden(`spec.tolerations[${i}]`, "existing toleration can not be modified except its tolerationSeconds"));
  });
  errs.push(...validateTolerations(spec.tolerations, "spec.tolerations"));
  munged.tolerations = oldSpec.tolerations;

  // terminationGracePeriodSeconds: only from a negative value to 1.
  if (typeof oldSpec.terminationGracePeriodSeconds === "number" && oldSpec.terminationGracePeriodSeconds < 0 && spec.terminationGracePeriodSeconds === 1)
    munged.terminationGracePeriodSeconds = oldSpec.terminationGracePeriodSeconds;

  // Scheduling gates may only be removed; while gated, node selection may be added to.
  const oldGates = arr(oldSpec.schedulingGates).map((g) => g?.name);
  for (const g of arr(spec.schedulingGates))
    if (!oldGates.includes(g?.name))
      errs.push(forbidden("spec.schedulingGates", `only deletion is allowed, but found new scheduling gate '${g?.name}'`));
  munged.schedulingGates = oldSpec.schedulingGates;
  if (oldGates.length > 0) {
    munged.nodeSelector = oldSpec.nodeSelector;
    munged.affinity = oldSpec.affinity;
  }

  // spec.ephemeralContainers changes only through the ephemeralcontainers subresource
  // (validatePodEphemeralContainersUpdate): a pod update that touches it is refused below.

  if (!deepEqual(munged, oldSpec)) {
    const changed = [...new Set([...Object.keys(munged), ...Object.keys(oldSpec)])].filter((k) => !deepEqual(munged[k], oldSpec[k]));
    errs.push(forbidden("spec", `${podUpdatableFieldsMessage}\n  core.PodSpec{\n${changed.map((k) => `  \t${k}: changed,`).join("\n")}\n  }\n`));
  }
  // Containers whose image changed must still have a valid one.
  arr(spec.containers).forEach((c, i) => {
    if (isEmpty(c?.image)) errs.push(required(`spec.containers[${i}].image`));
  });
  arr(spec.initContainers).forEach((c, i) => {
    if (isEmpty(c?.image)) errs.push(required(`spec.initContainers[${i}].image`));
  });
  return errs;
}

/**
 * ValidatePodEphemeralContainersUpdate, for the pods/ephemeralcontainers subresource: the pod with
 * its new list must be valid, and the containers it had must all still be there, unchanged.
 */
export function validatePodEphemeralContainersUpdate(o: any, old: any): FieldError[] {
  const errs = validateObjectMeta(o?.metadata, true, "subdomain");
  errs.push(...validateObjectMetaUpdate(o?.metadata, old?.metadata));
  if (old?.metadata?.annotations?.["kubernetes.io/config.mirror"] !== undefined)
    return [forbidden("", "static pods do not support ephemeral containers")];
  errs.push(...validatePodSpec(o?.spec, "spec"));
  const byName = new Map(arr(o?.spec?.ephemeralContainers).map((c) => [c?.name, c]));
  for (const c of arr(old?.spec?.ephemeralContainers)) {
    const now = byName.get(c?.name);
    if (now === undefined) errs.push(forbidden("spec.ephemeralContainers", `existing ephemeral containers "${c?.name}" may not be removed\n`));
    else if (!deepEqual(now, c)) errs.push(forbidden(`spec.ephemeralContainers[${c?.name}]`, `existing ephemeral containers "${c?.name}" may not be changed\n`));
  }
  return errs;
}

/** The Pod resource's validate(o, old?). */
export function validatePod(o: any, old?: any): FieldError[] {
  const errs = validateObjectMeta(o?.metadata, true, "subdomain");
  if (old) {
    errs.push(...validatePodUpdate(o, old));
    return errs;
  }
  errs.push(...validatePodSpec(o?.spec, "spec"));
  // Ephemeral containers join a running pod through pods/ephemeralcontainers, never at creation.
  if (arr(o?.spec?.ephemeralContainers).length) errs.push(forbidden("spec.ephemeralContainers", "cannot be set on create"));
  return errs;
}
