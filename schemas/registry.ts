// The resource registry: every served kind, described once. Discovery, OpenAPI, protobuf
// decoding, Table output and the store all read from here.
import type { ObjTy } from "./dsl";
import { resources as coreResources } from "./types/core";
import { resources as podResources } from "./types/pod";
import { resources as coreLegacyResources } from "./types/core-legacy";
import { resources as appsResources } from "./types/apps";
import { resources as batchResources } from "./types/batch";
import { resources as networkingResources } from "./types/networking";
import { resources as rbacResources } from "./types/rbac";
import { resources as miscResources } from "./types/misc";
import { resources as policyResources } from "./types/policy";
import { resources as autoscalingV1Resources } from "./types/autoscaling-v1";
import { resources as eventsResources } from "./types/events";
import { resources as certificatesResources } from "./types/certificates";
import { resources as storageCsiResources } from "./types/storage-csi";
import { resources as flowcontrolResources } from "./types/flowcontrol";
import { resources as apiregistrationResources } from "./types/apiregistration";
import { resources as nodeResources } from "./types/node";
import { resources as schedulingResources } from "./types/scheduling";
import { resources as apiextensionsResources } from "./types/apiextensions";
import { resources as admissionregistrationResources } from "./types/admissionregistration";
import { resources as admissionPolicyResources } from "./types/admission-policy";
import { columnsByKind } from "./columns/index";

export interface FieldError {
  /** JSON path like "spec.containers[0].image" */
  field: string;
  /** Kubernetes cause reason: FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, FieldValueDuplicate, FieldValueForbidden */
  type:
    | "FieldValueRequired"
    | "FieldValueInvalid"
    | "FieldValueNotSupported"
    | "FieldValueDuplicate"
    | "FieldValueForbidden"
    | "FieldValueTooLong"
    | "FieldValueNotFound";
  message: string;
}

export interface Column {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  format?: string; // "name" for the NAME column
  description: string;
  /** 0 = shown always, 1 = only with -o wide */
  priority: 0 | 1;
  /** The cell for an object. `now` is ms since epoch (for AGE-like cells computed server side). */
  cell: (o: any, now: number) => string | number | boolean | null;
}

export interface ScaleDef {
  specReplicasPath: string; // ".spec.replicas"
  statusReplicasPath: string; // ".status.replicas"
  labelSelectorPath?: string; // ".status.selector" (string form)
}

export interface ResourceDef {
  group: string; // "" for core
  version: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  /** Root type: apiVersion, kind, metadata, spec, status... */
  type: ObjTy;
  /** verbs; default: create delete deletecollection get list patch update watch */
  verbs?: string[];
  /** approval: CertificateSigningRequest's /approval (written like /status, its conditions only). */
  subresources?: { status?: boolean; scale?: ScaleDef; approval?: boolean };
  /** Extra field selector keys beyond metadata.name/metadata.namespace, with how to read them. */
  fieldSelectors?: Record<string, (o: any) => string | undefined>;
  /** Kubernetes defaulting, mutating in place (after decoding, before validation). */
  defaults?: (o: any) => void;
  /** Semantic validation beyond the type check (names, required values, enums...). old is set on update. */
  validate?: (o: any, old?: any) => FieldError[];
  /** Fields that may not change on update, as dotted paths ("spec.selector"). */
  immutable?: string[];
  /** The spec-like part whose change bumps metadata.generation. Default: everything except metadata and status. */
  noGeneration?: boolean;
  /**
   * A version served from another version's stored objects (one stored form per kind, as
   * kube-apiserver's storage version): requests in this version are converted to the stored
   * version on the way in and back on the way out. Field selectors are the view's, read from
   * stored objects. events.k8s.io/v1 Event is stored as the core v1 Event (storedGroup "").
   */
  conversion?: { storedGroup?: string; storedVersion: string; toStored(o: any): any; fromStored(o: any): any };
  /** Decoding other than the DSL type check (custom resources: prune by their schema). */
  decode?: (raw: unknown) => { errors: FieldError[]; unknownFields: string[]; value: any };
  /** The CustomResourceDefinition that serves this kind (custom resources only). */
  crd?: string;
  /** Served read-only (verbs get/list/watch): why writes are refused, the 405's message. */
  readOnly?: string;
  /** Message for clients of a deprecated version (a Warning header). */
  deprecationWarning?: string;
}

export interface RegisteredResource extends ResourceDef {
  apiVersion: string; // "v1" or "apps/v1"
  listKind: string;
  columns: Column[];
}

const all: ResourceDef[] = [
  ...coreResources,
  ...podResources,
  ...coreLegacyResources,
  ...appsResources,
  ...batchResources,
  ...networkingResources,
  ...rbacResources,
  ...miscResources,
  ...policyResources,
  ...autoscalingV1Resources,
  ...eventsResources,
  ...certificatesResources,
  ...storageCsiResources,
  ...flowcontrolResources,
  ...apiregistrationResources,
  ...nodeResources,
  ...schedulingResources,
  ...apiextensionsResources,
  ...admissionregistrationResources,
  ...admissionPolicyResources,
];

export const registry: RegisteredResource[] = all.map((r) => ({
  ...r,
  apiVersion: r.group ? `${r.group}/${r.version}` : r.version,
  listKind: `${r.kind}List`,
  columns: columnsByKind[`${r.group}/${r.kind}`] ?? [],
}));

const byGvr = new Map<string, RegisteredResource>();
const byGvk = new Map<string, RegisteredResource>();
for (const r of registry) {
  byGvr.set(`${r.group}/${r.version}/${r.plural}`, r);
  byGvk.set(`${r.apiVersion}/${r.kind}`, r);
}

// Kinds registered at run time (custom resources): `registry` is updated in place, so every
// reader (discovery, OpenAPI, the garbage collector's next pass) sees them.
const listeners: (() => void)[] = [];
let generation = 0;

/** Grows with every change of the served kinds (caches built from the registry compare it). */
export function registryGeneration(): number {
  return generation;
}

/** Called after every change of the served kinds; returns a function that unsubscribes. */
export function onRegistryChange(fn: () => void): () => void {
  listeners.push(fn);
  return () => {
    const i = listeners.indexOf(fn);
    if (i >= 0) listeners.splice(i, 1);
  };
}

/** Replace the kinds served for `crd` (an empty list stops serving them). */
export function setCustomResources(crd: string, rs: RegisteredResource[]): void {
  for (let i = registry.length - 1; i >= 0; i--) {
    const r = registry[i]!;
    if (r.crd !== crd) continue;
    registry.splice(i, 1);
    if (byGvr.get(`${r.group}/${r.version}/${r.plural}`) === r) byGvr.delete(`${r.group}/${r.version}/${r.plural}`);
    if (byGvk.get(`${r.apiVersion}/${r.kind}`) === r) byGvk.delete(`${r.apiVersion}/${r.kind}`);
  }
  for (const r of rs) {
    const gvr = `${r.group}/${r.version}/${r.plural}`;
    // Built-in kinds win over a CRD that claims their names.
    if (byGvr.has(gvr) || byGvk.has(`${r.apiVersion}/${r.kind}`)) continue;
    registry.push({ ...r, crd });
    byGvr.set(gvr, registry[registry.length - 1]!);
    byGvk.set(`${r.apiVersion}/${r.kind}`, registry[registry.length - 1]!);
  }
  generation++;
  for (const fn of [...listeners]) fn();
}

export function findByPlural(group: string, version: string, plural: string): RegisteredResource | undefined {
  return byGvr.get(`${group}/${version}/${plural}`);
}

export function findByKind(apiVersion: string, kind: string): RegisteredResource | undefined {
  return byGvk.get(`${apiVersion}/${kind}`);
}

/** The resource whose objects are stored for r: r itself unless r is converted from another version. */
export function storedResource(r: RegisteredResource): RegisteredResource {
  return r.conversion ? (byGvr.get(`${r.conversion.storedGroup ?? r.group}/${r.conversion.storedVersion}/${r.plural}`) ?? r) : r;
}

/** Group versions served, in discovery order (core first). */
export function groupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of registry) seen.set(`${r.group}/${r.version}`, { group: r.group, version: r.version });
  return [...seen.values()];
}

/** Resolve what a user typed ("po", "deploy", "deployments.apps", "Deployment") to a resource. */
export function resolveUserResource(name: string): RegisteredResource | undefined {
  const lower = name.toLowerCase();
  const [base, ...groupParts] = lower.split(".");
  const group = groupParts.join(".");
  const candidates = registry.filter((r) => !group || r.group === group || r.group.startsWith(group));
  return (
    candidates.find((r) => r.plural === base) ??
    candidates.find((r) => r.singular === base) ??
    candidates.find((r) => r.kind.toLowerCase() === base) ??
    candidates.find((r) => r.shortNames?.includes(base!))
  );
}
