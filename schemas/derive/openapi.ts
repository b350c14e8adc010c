// OpenAPI documents derived from the registry and the DSL, shaped like the ones kube-apiserver
// publishes, because kubectl reads them:
//  - `apply`/`create -f` look for a PATCH operation carrying the kind's
//    x-kubernetes-group-version-kind and a `fieldValidation` query parameter, then leave
//    validation to the server (v3 from kubectl 1.29, v2 protobuf before);
//  - `explain` walks components.schemas (v3) from the schema whose
//    x-kubernetes-group-version-kind lists the kind.
// v3: one document per group-version, schemas under #/components/schemas/<ObjTy.name>.
// v2: one swagger 2.0 document for everything, under #/definitions/<ObjTy.name>.
import { F, int32, list, obj, str, type Field, type ObjTy, type Ty } from "../dsl";
import { DeleteOptions as DeleteOptionsTy, ListMeta, StatusDetails, typeMetaFields } from "../types/meta";

/** What the documents need to know of a served resource (a subset of RegisteredResource). */
export interface OpenAPIResource {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  type: ObjTy;
  verbs?: string[];
  subresources?: { status?: boolean; scale?: unknown };
  /** Custom resources (no strategic merge patch: kubectl then sends merge patches). */
  crd?: string;
}

type Json = Record<string, any>;
type Version = "v2" | "v3";

const DEFAULT_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

// ---------------------------------------------------------------------------------------------
// Shared meta types that are not kinds of their own.

const Status = obj(
  "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
  () => ({
    apiVersion: F(str),
    kind: F(str),
    metadata: F(ListMeta, 1),
    status: F(str, 2),
    message: F(str, 3),
    reason: F(str, 4),
    details: F(StatusDetails, 5),
    code: F(int32, 6),
  }),
  { desc: "Status is a return value for calls that don't return other objects." },
);

const Scale = obj(
  "io.k8s.api.autoscaling.v1.Scale",
  () => ({
    ...typeMetaFields(),
    spec: F(
      obj("io.k8s.api.autoscaling.v1.ScaleSpec", () => ({
        replicas: F(int32, 1, { desc: "replicas is the desired number of instances for the scaled object." }),
      })),
      2,
    ),
    status: F(
      obj("io.k8s.api.autoscaling.v1.ScaleStatus", () => ({
        replicas: F(int32, 1, { required: true, desc: "replicas is the actual number of observed instances of the scaled object." }),
        selector: F(str, 2, { desc: "selector is the label query over pods that should match the replicas count." }),
      })),
      3,
    ),
  }),
  { desc: "Scale represents a scaling request for a resource." },
);

const PATCH_NAME = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const WATCH_EVENT = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";

// Primitive types that upstream publishes as named definitions.
const namedPrims: Record<string, { name: string; v2: Json; v3: Json }> = {
  quantity: {
    name: "io.k8s.apimachinery.pkg.api.resource.Quantity",
    v2: { type: "string" },
    v3: { oneOf: [{ type: "string" }, { type: "number" }] },
  },
  intOrString: {
    name: "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    v2: { type: "string", format: "int-or-string" },
    v3: { type: "string", format: "int-or-string", oneOf: [{ type: "integer" }, { type: "string" }] },
  },
  time: { name: "io.k8s.apimachinery.pkg.apis.meta.v1.Time", v2: { type: "string", format: "date-time" }, v3: { type: "string", format: "date-time" } },
  microTime: {
    name: "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
    v2: { type: "string", format: "date-time" },
    v3: { type: "string", format: "date-time" },
  },
};
const namedPrimDesc: Record<string, string> = {
  quantity:
    "Quantity is a fixed-point representation of a number. It provides convenient marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() accessors.\n\nThe serialization format is:\n\n``` <quantity>        ::= <signedNumber><suffix>\n\n\t(Note that <suffix> may be empty, from the \"\" case in <decimalSI>.)\n\n<digit>           ::= 0 | 1 | ... | 9 <digits>          ::= <digit> | <digit><digits> <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits> <sign>            ::= \"+\" | \"-\" <signedNumber>    ::= <number> | <sign><number> <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI> <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei\n\n\t(International System of units; See: http://physics.nist.gov/cuu/Units/binary.html)\n\n<decimalSI>       ::= m | \"\" | k | M | G | T | P | E\n\n\t(Note that 1024 = 1Ki but 1000 = 1k; I didn't choose the capitalization.)\n\n<decimalExponent> ::= \"e\" <signedNumber> | \"E\" <signedNumber> ```",
  intOrString:
    "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, a JSON field that can accept a name or number.",
  time: "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON.  Wrappers are provided for many of the factory methods that the time package offers.",
  microTime: "MicroTime is version of Time with microsecond level precision.",
};

// ---------------------------------------------------------------------------------------------
// Schemas.

class SchemaBuilder {
  readonly defs = new Map<string, Json>();
  private readonly seen = new Set<string>();
  constructor(private readonly v: Version) {}

  ref(name: string): string {
    return this.v === "v3" ? `#/components/schemas/${name}` : `#/definitions/${name}`;
  }

  /** Schema of a field's type (not of a definition). Registers the definitions it refers to. */
  typeSchema(t: Ty): Json {
    switch (t.kind) {
      case "obj":
        this.addObj(t);
        return { $ref: this.ref(t.name) };
      case "list": {
        const s: Json = { type: "array", items: this.elemSchema(t.of) };
        if (t.listType) s["x-kubernetes-list-type"] = t.listType;
        if (t.listMapKeys) s["x-kubernetes-list-map-keys"] = [...t.listMapKeys];
        if (t.patchMergeKey) s["x-kubernetes-patch-merge-key"] = t.patchMergeKey;
        if (t.patchStrategy) s["x-kubernetes-patch-strategy"] = t.patchStrategy;
        return s;
      }
      case "map":
        return { type: "object", additionalProperties: this.elemSchema(t.of) };
      case "prim": {
        const named = namedPrims[t.prim];
        if (named) {
          this.addNamedPrim(t.prim);
          return { $ref: this.ref(named.name) };
        }
        let s: Json;
        switch (t.prim) {
          case "string":
            s = { type: "string" };
            break;
          case "int32":
          case "int64":
            s = { type: "integer", format: t.prim };
            break;
          case "double":
            s = { type: "number", format: "double" };
            break;
          case "boolean":
            s = { type: "boolean" };
            break;
          case "bytes":
            s = { type: "string", format: "byte" };
            break;
          default: // any
            s = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
        }
        if (t.format) s.format = t.format;
        if (t.enum && t.enum.length) s.enum = [...t.enum];
        return s;
      }
    }
  }

  /** Items and map values: v3 wraps references in allOf with a default, as upstream does. */
  private elemSchema(t: Ty): Json {
    const s = this.typeSchema(t);
    if (this.v === "v3" && s.$ref && t.kind === "obj") return { allOf: [s], default: {} };
    return s;
  }

  private fieldSchema(f: Field): Json {
    const s = this.typeSchema(f.t);
    const extra: Json = {};
    if (f.desc) extra.description = f.desc;
    if (f.patchStrategy) extra["x-kubernetes-patch-strategy"] = f.patchStrategy;
    if (s.$ref) {
      if (this.v === "v3") {
        // upstream v3: {"allOf":[{"$ref":…}], "default": {}, "description": …}
        return f.t.kind === "obj" ? { allOf: [s], default: {}, ...extra } : { allOf: [s], ...extra };
      }
      return { ...s, ...extra };
    }
    return { ...s, ...extra };
  }

  private addNamedPrim(p: string) {
    const n = namedPrims[p]!;
    if (this.seen.has(n.name)) return;
    this.seen.add(n.name);
    this.defs.set(n.name, { description: namedPrimDesc[p], ...(this.v === "v3" ? n.v3 : n.v2) });
  }

  addObj(t: ObjTy, extra: Json = {}): void {
    if (this.seen.has(t.name)) {
      if (Object.keys(extra).length) Object.assign(this.defs.get(t.name)!, extra);
      return;
    }
    this.seen.add(t.name);
    const s: Json = {};
    this.defs.set(t.name, s); // before recursing: recursive types refer to themselves
    if (t.openapi) {
      Object.assign(s, t.openapi(this.v, (x) => this.typeSchema(x)), extra);
      return;
    }
    if (t.desc) s.description = t.desc;
    s.type = "object";
    const props: Json = {};
    const required: string[] = [];
    for (const [name, f] of Object.entries(t.fields())) {
      props[name] = this.fieldSchema(f);
      if (f.required) required.push(name);
    }
    if (Object.keys(props).length) s.properties = props;
    if (required.length) s.required = required.sort();
    if (t.open) s["x-kubernetes-preserve-unknown-fields"] = true;
    Object.assign(s, extra);
  }

  addRaw(name: string, schema: Json) {
    if (this.seen.has(name)) return;
    this.seen.add(name);
    this.defs.set(name, schema);
  }

  sortedDefs(): Json {
    return Object.fromEntries([...this.defs.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}

const gvkExt = (group: string, version: string, kind: string) => ({ group, kind, version });

function listType(r: OpenAPIResource): ObjTy {
  return obj(
    `${r.type.name}List`,
    () => ({
      apiVersion: F(str, undefined, {
        desc: "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.",
      }),
      items: F(list(r.type), 2, { required: true, desc: `List of ${r.plural}.` }),
      kind: F(str, undefined, {
        desc: "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase.",
      }),
      metadata: F(ListMeta, 1, { desc: "Standard list metadata." }),
    }),
    { desc: `${r.kind}List is a list of ${r.kind} objects.` },
  );
}

function addCommon(b: SchemaBuilder) {
  b.addRaw(PATCH_NAME, { description: "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.", type: "object" });
  b.addObj(Status);
  b.addObj(
    obj(
      WATCH_EVENT,
      () => ({
        type: F(str, 1, { required: true }),
        object: F({ kind: "prim", prim: "any" }, 2, {
          required: true,
          desc: "Object is:\n * If Type is Added or Modified: the new state of the object.\n * If Type is Deleted: the state of the object immediately before deletion.\n * If Type is Error: *Status is recommended; other types may make sense\n   depending on context.",
        }),
      }),
      { desc: "Event represents a single event to a watched resource." },
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Paths.

interface Param {
  name: string;
  in: "query" | "path";
  description: string;
  type: "string" | "boolean" | "integer";
  uniqueItems?: boolean;
  required?: boolean;
}

const P = {
  pretty: { name: "pretty", in: "query", type: "string", uniqueItems: true, description: "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget)." },
  dryRun: { name: "dryRun", in: "query", type: "string", uniqueItems: true, description: "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed" },
  fieldManager: { name: "fieldManager", in: "query", type: "string", uniqueItems: true, description: "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint." },
  fieldValidation: { name: "fieldValidation", in: "query", type: "string", uniqueItems: true, description: "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered." },
  force: { name: "force", in: "query", type: "boolean", uniqueItems: true, description: "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests." },
  gracePeriodSeconds: { name: "gracePeriodSeconds", in: "query", type: "integer", uniqueItems: true, description: "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately." },
  propagationPolicy: { name: "propagationPolicy", in: "query", type: "string", uniqueItems: true, description: "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background', 'Foreground'." },
  labelSelector: { name: "labelSelector", in: "query", type: "string", uniqueItems: true, description: "A selector to restrict the list of returned objects by their labels. Defaults to everything." },
  fieldSelector: { name: "fieldSelector", in: "query", type: "string", uniqueItems: true, description: "A selector to restrict the list of returned objects by their fields. Defaults to everything." },
  limit: { name: "limit", in: "query", type: "integer", uniqueItems: true, description: "limit is a maximum number of responses to return for a list call." },
  continue: { name: "continue", in: "query", type: "string", uniqueItems: true, description: "The continue option should be set when retrieving more results from the server." },
  resourceVersion: { name: "resourceVersion", in: "query", type: "string", uniqueItems: true, description: "resourceVersion sets a constraint on what resource versions a request may be served from." },
  timeoutSeconds: { name: "timeoutSeconds", in: "query", type: "integer", uniqueItems: true, description: "Timeout for the list/watch call." },
  watch: { name: "watch", in: "query", type: "boolean", uniqueItems: true, description: "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications." },
  allowWatchBookmarks: { name: "allowWatchBookmarks", in: "query", type: "boolean", uniqueItems: true, description: "allowWatchBookmarks requests watch events with type \"BOOKMARK\"." },
  namespace: { name: "namespace", in: "path", type: "string", required: true, uniqueItems: true, description: "object name and auth scope, such as for teams and projects" },
} satisfies Record<string, Param>;

const nameParam = (kind: string): Param => ({ name: "name", in: "path", type: "string", required: true, uniqueItems: true, description: `name of the ${kind}` });

interface OpSpec {
  method: "get" | "post" | "put" | "delete" | "patch";
  action: string;
  operationId: string;
  description: string;
  params: Param[];
  body?: string; // definition name of the body
  patchBody?: boolean;
  /** The resource takes no strategic merge patch (custom resources). */
  noStrategic?: boolean;
  response: string; // definition name
  created?: boolean;
  gvk: { group: string; version: string; kind: string };
}

const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
function groupTag(group: string, version: string): string {
  const g = group === "" ? "core" : group.replace(/\.k8s\.io$/, "").replace(/\./g, "_");
  return `${g}_${version}`;
}
function opPrefix(group: string, version: string): string {
  const g = group === "" ? "Core" : group.replace(/\.k8s\.io$/, "").split(/[.-]/).map(upperFirst).join("");
  return `${g}${upperFirst(version)}`;
}

const PATCH_TYPES = [
  "application/apply-patch+yaml",
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
];
const PRODUCES = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];
const patchTypes = (op: OpSpec) => (op.noStrategic ? PATCH_TYPES.filter((t) => t !== "application/strategic-merge-patch+json") : PATCH_TYPES);

function resourcePaths(r: OpenAPIResource): { path: string; ops: OpSpec[] }[] {
  const verbs = new Set(r.verbs ?? DEFAULT_VERBS);
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const coll = r.namespaced ? `${base}/namespaces/{namespace}/${r.plural}` : `${base}/${r.plural}`;
  const item = `${coll}/{name}`;
  const ns = r.namespaced ? [P.namespace] : [];
  const nsWord = r.namespaced ? "Namespaced" : "";
  const pre = opPrefix(r.group, r.version);
  const gvk = gvkExt(r.group, r.version, r.kind);
  const name = nameParam(r.kind);
  const t = r.type.name;
  const listName = `${t}List`;
  const listParams = [P.allowWatchBookmarks, P.continue, P.fieldSelector, P.labelSelector, P.limit, P.resourceVersion, P.timeoutSeconds, P.watch];
  const out: { path: string; ops: OpSpec[] }[] = [];

  const collOps: OpSpec[] = [];
  if (verbs.has("list"))
    collOps.push({ method: "get", action: "list", operationId: `list${pre}${nsWord}${r.kind}`, description: `list or watch objects of kind ${r.kind}`, params: [...ns, P.pretty, ...listParams], response: listName, gvk });
  if (verbs.has("create"))
    collOps.push({ method: "post", action: "post", operationId: `create${pre}${nsWord}${r.kind}`, description: `create a ${r.kind}`, params: [...ns, P.pretty, P.dryRun, P.fieldManager, P.fieldValidation], body: t, response: t, created: true, gvk });
  if (verbs.has("deletecollection"))
    collOps.push({ method: "delete", action: "deletecollection", operationId: `deletecollection${pre}${nsWord}${r.kind}`, description: `delete collection of ${r.kind}`, params: [...ns, P.pretty, P.dryRun, P.gracePeriodSeconds, P.propagationPolicy, ...listParams], body: DELETE_OPTIONS, response: Status.name, gvk });
  if (collOps.length) out.push({ path: coll, ops: collOps });

  const itemOps: OpSpec[] = [];
  if (verbs.has("get")) itemOps.push({ method: "get", action: "get", operationId: `read${pre}${nsWord}${r.kind}`, description: `read the specified ${r.kind}`, params: [name, ...ns, P.pretty], response: t, gvk });
  if (verbs.has("update"))
    itemOps.push({ method: "put", action: "put", operationId: `replace${pre}${nsWord}${r.kind}`, description: `replace the specified ${r.kind}`, params: [name, ...ns, P.pretty, P.dryRun, P.fieldManager, P.fieldValidation], body: t, response: t, created: true, gvk });
  if (verbs.has("delete"))
    itemOps.push({ method: "delete", action: "delete", operationId: `delete${pre}${nsWord}${r.kind}`, description: `delete a ${r.kind}`, params: [name, ...ns, P.pretty, P.dryRun, P.gracePeriodSeconds, P.propagationPolicy], body: DELETE_OPTIONS, response: Status.name, gvk });
  if (verbs.has("patch"))
    itemOps.push({ method: "patch", action: "patch", operationId: `patch${pre}${nsWord}${r.kind}`, description: `partially update the specified ${r.kind}`, params: [name, ...ns, P.pretty, P.dryRun, P.fieldManager, P.fieldValidation, P.force], patchBody: true, noStrategic: !!r.crd, body: PATCH_NAME, response: t, created: true, gvk });
  if (itemOps.length) out.push({ path: item, ops: itemOps });

  if (r.namespaced && verbs.has("list")) {
    out.push({
      path: `${base}/${r.plural}`,
      ops: [{ method: "get", action: "list", operationId: `list${pre}${r.kind}ForAllNamespaces`, description: `list or watch objects of kind ${r.kind}`, params: [P.pretty, ...listParams], response: listName, gvk }],
    });
  }

  const sub = (suffix: string, kindWord: string, typeName: string, subGvk: typeof gvk) => {
    const ops: OpSpec[] = [
      { method: "get", action: "get", operationId: `read${pre}${nsWord}${r.kind}${kindWord}`, description: `read ${suffix} of the specified ${r.kind}`, params: [name, ...ns, P.pretty], response: typeName, gvk: subGvk },
      { method: "put", action: "put", operationId: `replace${pre}${nsWord}${r.kind}${kindWord}`, description: `replace ${suffix} of the specified ${r.kind}`, params: [name, ...ns, P.pretty, P.dryRun, P.fieldManager, P.fieldValidation], body: typeName, response: typeName, created: true, gvk: subGvk },
      { method: "patch", action: "patch", operationId: `patch${pre}${nsWord}${r.kind}${kindWord}`, description: `partially update ${suffix} of the specified ${r.kind}`, params: [name, ...ns, P.pretty, P.dryRun, P.fieldManager, P.fieldValidation, P.force], patchBody: true, noStrategic: !!r.crd, body: PATCH_NAME, response: typeName, created: true, gvk: subGvk },
    ];
    out.push({ path: `${item}/${suffix}`, ops });
  };
  if (r.subresources?.status) sub("status", "Status", t, gvk);
  if (r.subresources?.scale) sub("scale", "Scale", Scale.name, gvkExt("autoscaling", "v1", "Scale"));
  return out;
}

function v3Op(op: OpSpec, tag: string, ref: (n: string) => string): Json {
  const schemaRef = (n: string) => ({ $ref: ref(n) });
  const o: Json = {
    tags: [tag],
    description: op.description,
    operationId: op.operationId,
    parameters: op.params.map((p) => {
      const q: Json = { name: p.name, in: p.in, description: p.description };
      if (p.required) q.required = true;
      q.schema = { type: p.type, uniqueItems: true };
      return q;
    }),
  };
  if (op.body) {
    const types = op.patchBody ? patchTypes(op) : ["*/*"];
    o.requestBody = { content: Object.fromEntries(types.map((t) => [t, { schema: schemaRef(op.body!) }])), required: op.method !== "delete" };
  }
  const content = Object.fromEntries(PRODUCES.map((t) => [t, { schema: schemaRef(op.response) }]));
  o.responses = { "200": { description: "OK", content } };
  if (op.created) o.responses["201"] = { description: "Created", content };
  o.responses["401"] = { description: "Unauthorized" };
  o["x-kubernetes-action"] = op.action;
  o["x-kubernetes-group-version-kind"] = op.gvk;
  return o;
}

function v2Op(op: OpSpec, tag: string): Json {
  const ref = (n: string) => ({ $ref: `#/definitions/${n}` });
  const params: Json[] = [];
  if (op.body) params.push({ name: "body", in: "body", required: op.method !== "delete", schema: ref(op.body) });
  for (const p of op.params) {
    const q: Json = { uniqueItems: true, type: p.type, description: p.description, name: p.name, in: p.in };
    if (p.required) q.required = true;
    params.push(q);
  }
  const o: Json = {
    description: op.description,
    consumes: op.patchBody ? patchTypes(op) : ["*/*"],
    produces: PRODUCES,
    schemes: ["https"],
    tags: [tag],
    operationId: op.operationId,
    parameters: params,
    responses: { "200": { description: "OK", schema: ref(op.response) }, ...(op.created ? { "201": { description: "Created", schema: ref(op.response) } } : {}), "401": { description: "Unauthorized" } },
    "x-kubernetes-action": op.action,
    "x-kubernetes-group-version-kind": op.gvk,
  };
  return o;
}

function addKindSchemas(b: SchemaBuilder, r: OpenAPIResource) {
  b.addObj(r.type, { "x-kubernetes-group-version-kind": [gvkExt(r.group, r.version, r.kind)] });
  b.addObj(listType(r), { "x-kubernetes-group-version-kind": [gvkExt(r.group, r.version, `${r.kind}List`)] });
  if (r.subresources?.scale) b.addObj(Scale, { "x-kubernetes-group-version-kind": [gvkExt("autoscaling", "v1", "Scale")] });
}

function addDeleteOptions(b: SchemaBuilder, resources: OpenAPIResource[]) {
  const gvks = new Map<string, Json>();
  for (const r of resources) gvks.set(`${r.group}/${r.version}`, gvkExt(r.group, r.version, "DeleteOptions"));
  b.addObj(DeleteOptionsTy, { "x-kubernetes-group-version-kind": [...gvks.values()] });
}

const sortObj = (o: Json): Json => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** The OpenAPI v3 document of one group-version. */
export function openapiV3(resources: OpenAPIResource[], group: string, version: string, serverVersion = "v1.32.4"): Json {
  const rs = resources.filter((r) => r.group === group && r.version === version);
  const b = new SchemaBuilder("v3");
  const tag = groupTag(group, version);
  const paths: Json = {};
  for (const r of rs) {
    addKindSchemas(b, r);
    for (const { path, ops } of resourcePaths(r)) {
      const item: Json = (paths[path] ??= {});
      for (const op of ops) item[op.method] = v3Op(op, tag, (n) => b.ref(n));
    }
  }
  addCommon(b);
  addDeleteOptions(b, rs);
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: serverVersion },
    paths: sortObj(paths),
    components: {
      schemas: b.sortedDefs(),
      securitySchemes: { BearerToken: { type: "apiKey", description: "Bearer Token authentication", name: "authorization", in: "header" } },
    },
  };
}

/** The swagger 2.0 document of everything served. */
export function openapiV2(resources: OpenAPIResource[], serverVersion = "v1.32.4"): Json {
  const b = new SchemaBuilder("v2");
  const paths: Json = {};
  for (const r of resources) {
    addKindSchemas(b, r);
    const tag = groupTag(r.group, r.version);
    for (const { path, ops } of resourcePaths(r)) {
      const item: Json = (paths[path] ??= {});
      for (const op of ops) item[op.method] = v2Op(op, tag);
    }
  }
  addCommon(b);
  addDeleteOptions(b, resources);
  return {
    swagger: "2.0",
    info: { title: "Kubernetes", version: serverVersion },
    paths: sortObj(paths),
    definitions: b.sortedDefs(),
    securityDefinitions: { BearerToken: { description: "Bearer Token authentication", type: "apiKey", name: "authorization", in: "header" } },
    security: [{ BearerToken: [] }],
  };
}

/** "api/v1", "apis/apps/v1": the keys of the /openapi/v3 index. */
export function v3PathKey(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}
