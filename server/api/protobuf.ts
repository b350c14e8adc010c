// Decoding of `application/vnd.kubernetes.protobuf` request bodies (kubectl's typed `create`
// helpers and `auth can-i` send nothing else). The body is `k8s\0` + runtime.Unknown
// { typeMeta{apiVersion=1, kind=2}=1, raw=2, contentEncoding=3, contentType=4 }, and `raw` is
// the object's own message, decoded here by walking the DSL type with its `pb` field numbers.
//
// The result is the JSON the same client would have sent: Go's protobuf encoding writes every
// non-pointer field, even empty ones ("", 0, false, empty Time), where its JSON encoding
// (omitempty) writes nothing. Those zero values are dropped from objects (never from map values
// or list items), except for the fields in POINTER_ZERO_FIELDS: Go pointers whose 0/false means
// something (`kubectl create deployment --replicas=0`). The DSL does not record pointer-ness.
//
// Go structs embedded inline (Volume embeds VolumeSource, IngressRule embeds IngressRuleValue)
// are flat in JSON but one nested message in protobuf; the kind files list them in their
// `inlinedPb` tables, and the decoder merges the embedded message's fields into the parent.
// Only the wire Reader: the minimal build, without the .proto parser and reflection the full index loads.
import protobuf from "protobufjs/minimal";
import { F, obj, type ObjTy, type Ty } from "../../schemas/dsl";

const { Reader } = protobuf;
type Reader = protobuf.Reader;

export class ProtobufDecodeError extends Error {
  override name = "ProtobufDecodeError";
}

const MAGIC = [0x6b, 0x38, 0x73, 0x00]; // "k8s\0"

interface DecodedObject {
  apiVersion: string;
  kind: string;
  object: Record<string, unknown>;
}

/** Pointer fields whose zero value is meaningful and must survive decoding. */
const POINTER_ZERO_FIELDS = new Set([
  "replicas", "parallelism", "completions", "backoffLimit", "backoffLimitPerIndex", "maxFailedIndexes",
  "activeDeadlineSeconds", "ttlSecondsAfterFinished", "startingDeadlineSeconds", "successfulJobsHistoryLimit",
  "failedJobsHistoryLimit", "suspend", "automountServiceAccountToken", "immutable", "expirationSeconds",
  "revisionHistoryLimit", "progressDeadlineSeconds", "terminationGracePeriodSeconds", "optional",
  "runAsUser", "runAsGroup", "runAsNonRoot", "privileged", "allowPrivilegeEscalation", "readOnlyRootFilesystem",
  "procMount", "fsGroup", "defaultMode", "mode", "enableServiceLinks", "shareProcessNamespace", "setHostnameAsFQDN",
  "hostUsers", "priority", "allocateLoadBalancerNodePorts", "gracePeriodSeconds",
  "ready", "serving", "terminating", "partition", "maxUnavailable", "maxSurge",
  "leaseDurationSeconds", "leaseTransitions",
]);

/** Inline-embedded messages: parent definition -> [field number, embedded type]. */
type EmbeddedTable = Map<string, { pb: number; type: ObjTy }>;

let defaultEmbedded: EmbeddedTable | undefined;
/** Built from the kind files' `inlinedPb` tables on first use (lazily, like the registry). */
function embeddedFromSchemas(): EmbeddedTable {
  if (defaultEmbedded) return defaultEmbedded;
  const m: EmbeddedTable = new Map();
  const byName = new Map<string, ObjTy>();
  const tables: Record<string, [number, string]>[] = [];
  for (const mod of ["pod-common", "pod-container", "pod-volumes", "core-storage", "networking"]) {
    let x: Record<string, unknown>;
    try {
      x = require(`../../schemas/types/${mod}`) as Record<string, unknown>;
    } catch {
      continue;
    }
    for (const v of Object.values(x)) if (v && typeof v === "object" && (v as ObjTy).kind === "obj") byName.set((v as ObjTy).name, v as ObjTy);
    if (x.inlinedPb) tables.push(x.inlinedPb as Record<string, [number, string]>);
  }
  // IngressRuleValue has no type of its own in the DSL: its only field is `http` (pb 1).
  const http = byName.get("io.k8s.api.networking.v1.HTTPIngressRuleValue");
  if (http && !byName.has("io.k8s.api.networking.v1.IngressRuleValue")) {
    byName.set("io.k8s.api.networking.v1.IngressRuleValue", obj("io.k8s.api.networking.v1.IngressRuleValue", () => ({ http: F(http, 1) })));
  }
  for (const t of tables) for (const [parent, [pb, name]] of Object.entries(t)) {
    const type = byName.get(name);
    if (type) m.set(parent, { pb, type });
  }
  return (defaultEmbedded = m);
}

export function decodeK8sProtobuf(
  body: Uint8Array,
  lookup: (apiVersion: string, kind: string) => ObjTy | undefined,
  embedded: EmbeddedTable = embeddedFromSchemas(),
): DecodedObject {
  if (body.length < 4 || MAGIC.some((b, i) => body[i] !== b)) {
    throw new ProtobufDecodeError("protobuf body does not start with the Kubernetes magic prefix k8s\\0");
  }
  const env = guard("runtime.Unknown envelope", () => decodeUnknown(body.subarray(4)));
  if (!env.kind) throw new ProtobufDecodeError("protobuf envelope has no kind in typeMeta");
  if (env.contentEncoding) throw new ProtobufDecodeError(`unsupported protobuf contentEncoding ${JSON.stringify(env.contentEncoding)}`);
  if (env.contentType && env.contentType !== "application/vnd.kubernetes.protobuf") {
    throw new ProtobufDecodeError(`unsupported contentType ${JSON.stringify(env.contentType)} inside the protobuf envelope`);
  }
  const t = lookup(env.apiVersion, env.kind);
  if (!t) throw new ProtobufDecodeError(`no kind "${env.kind}" is registered for version "${env.apiVersion}"`);
  const object = guard(`${env.kind} message`, () => decodeMessage(Reader.create(env.raw), env.raw.length, t, embedded));
  return { apiVersion: env.apiVersion, kind: env.kind, object: { ...object, apiVersion: env.apiVersion, kind: env.kind } };
}

function guard<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ProtobufDecodeError) throw e;
    throw new ProtobufDecodeError(`malformed protobuf in ${what}: ${(e as Error).message}`);
  }
}

function decodeUnknown(buf: Uint8Array) {
  const r = Reader.create(buf);
  const out: { apiVersion: string; kind: string; raw: Uint8Array; contentEncoding: string; contentType: string } = {
    apiVersion: "",
    kind: "",
    raw: new Uint8Array(),
    contentEncoding: "",
    contentType: "",
  };
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1: {
        const end = r.uint32() + r.pos;
        while (r.pos < end) {
          const t2 = r.uint32();
          if (t2 >>> 3 === 1) out.apiVersion = r.string();
          else if (t2 >>> 3 === 2) out.kind = r.string();
          else r.skipType(t2 & 7);
        }
        break;
      }
      case 2:
        out.raw = r.bytes();
        break;
      case 3:
        out.contentEncoding = r.string();
        break;
      case 4:
        out.contentType = r.string();
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

const fieldMaps = new WeakMap<ObjTy, Map<number, [string, Ty]>>();
function fieldsByNumber(t: ObjTy): Map<number, [string, Ty]> {
  let m = fieldMaps.get(t);
  if (!m) {
    m = new Map();
    for (const [name, f] of Object.entries(t.fields())) if (f.pb !== undefined) m.set(f.pb, [name, f.t]);
    fieldMaps.set(t, m);
  }
  return m;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

function toNumber(x: unknown): number {
  if (typeof x === "number") return x;
  if (x && typeof x === "object" && "toNumber" in x) return (x as { toNumber(): number }).toNumber();
  return Number(x);
}

function expectWire(actual: number, expected: number, field: string) {
  if (actual !== expected) throw new ProtobufDecodeError(`field ${field}: wire type ${actual}, expected ${expected}`);
}

function decodeMessage(r: Reader, end: number, t: ObjTy, emb: EmbeddedTable): Record<string, unknown> {
  const fields = fieldsByNumber(t);
  const inline = emb.get(t.name);
  const out: Record<string, unknown> = {};
  while (r.pos < end) {
    const tag = r.uint32();
    const no = tag >>> 3;
    const wire = tag & 7;
    const f = fields.get(no);
    if (!f && inline && no === inline.pb) {
      expectWire(wire, WIRE_LEN, `${t.name} (embedded ${inline.type.name})`);
      const e = r.uint32() + r.pos;
      Object.assign(out, decodeMessage(r, e, inline.type, emb));
      continue;
    }
    if (!f) {
      r.skipType(wire);
      continue;
    }
    const [name, ft] = f;
    if (ft.kind === "list") {
      const arr = (out[name] as unknown[] | undefined) ?? [];
      if (wire === WIRE_LEN && isPackable(ft.of)) {
        const e = r.uint32() + r.pos;
        while (r.pos < e) arr.push(decodeScalar(r, ft.of, packedWire(ft.of), `${t.name}.${name}`));
      } else {
        arr.push(decodeValue(r, wire, ft.of, `${t.name}.${name}`, emb, true));
      }
      out[name] = arr;
    } else if (ft.kind === "map") {
      expectWire(wire, WIRE_LEN, `${t.name}.${name}`);
      const m = (out[name] as Record<string, unknown> | undefined) ?? {};
      const e = r.uint32() + r.pos;
      let key = "";
      let value: unknown = zeroOf(ft.of);
      while (r.pos < e) {
        const t2 = r.uint32();
        if (t2 >>> 3 === 1) key = r.string();
        else if (t2 >>> 3 === 2) value = decodeValue(r, t2 & 7, ft.of, `${t.name}.${name}[${key}]`, emb, true);
        else r.skipType(t2 & 7);
      }
      m[key] = value;
      out[name] = m;
    } else {
      const v = decodeValue(r, wire, ft, `${t.name}.${name}`, emb);
      const zero = v === undefined || v === "" || ((v === 0 || v === false) && !POINTER_ZERO_FIELDS.has(name));
      if (zero) delete out[name];
      else out[name] = v;
    }
  }
  return out;
}

function zeroOf(t: Ty): unknown {
  if (t.kind === "list") return [];
  if (t.kind === "map" || t.kind === "obj") return {};
  switch (t.prim) {
    case "string":
    case "bytes":
    case "quantity":
      return "";
    case "boolean":
      return false;
    case "int32":
    case "int64":
    case "double":
    case "intOrString":
      return 0;
    default:
      return null;
  }
}

const isPackable = (t: Ty) => t.kind === "prim" && ["int32", "int64", "double", "boolean"].includes(t.prim);
const packedWire = (t: Ty) => (t.kind === "prim" && t.prim === "double" ? WIRE_FIXED64 : WIRE_VARINT);

function decodeScalar(r: Reader, t: Ty, wire: number, field: string): unknown {
  if (t.kind !== "prim") throw new ProtobufDecodeError(`field ${field}: not a scalar`);
  switch (t.prim) {
    case "int32":
      expectWire(wire, WIRE_VARINT, field);
      return r.int32();
    case "int64":
      expectWire(wire, WIRE_VARINT, field);
      return toNumber(r.int64());
    case "boolean":
      expectWire(wire, WIRE_VARINT, field);
      return r.bool();
    case "double":
      if (wire === WIRE_FIXED32) return r.float();
      expectWire(wire, WIRE_FIXED64, field);
      return r.double();
    default:
      throw new ProtobufDecodeError(`field ${field}: not a scalar`);
  }
}

/** One value of type t at the reader; `inCollection` keeps empty values (map values, list items). */
function decodeValue(r: Reader, wire: number, t: Ty, field: string, emb: EmbeddedTable, inCollection = false): unknown {
  if (t.kind === "obj") {
    expectWire(wire, WIRE_LEN, field);
    const e = r.uint32() + r.pos;
    return decodeMessage(r, e, t, emb);
  }
  if (t.kind === "list" || t.kind === "map") {
    // A map of lists (map<string, ExtraValue>) or list of lists: Kubernetes wraps the inner
    // collection in a message whose field 1 is the repeated items.
    expectWire(wire, WIRE_LEN, field);
    const e = r.uint32() + r.pos;
    const wrapper = decodeMessage(r, e, {
      kind: "obj",
      name: `${field}.wrapper`,
      fields: () => ({ items: { t, pb: 1 } }),
    } as ObjTy, emb);
    return wrapper.items ?? zeroOf(t);
  }
  switch (t.prim) {
    case "string":
      expectWire(wire, WIRE_LEN, field);
      return r.string();
    case "bytes": {
      expectWire(wire, WIRE_LEN, field);
      return Buffer.from(r.bytes()).toString("base64");
    }
    case "int32":
    case "int64":
    case "boolean":
    case "double":
      return decodeScalar(r, t, wire, field);
    case "quantity": {
      expectWire(wire, WIRE_LEN, field);
      const e = r.uint32() + r.pos;
      let s = "";
      while (r.pos < e) {
        const t2 = r.uint32();
        if (t2 >>> 3 === 1) s = r.string();
        else r.skipType(t2 & 7);
      }
      return s === "" && !inCollection ? undefined : s;
    }
    case "intOrString": {
      expectWire(wire, WIRE_LEN, field);
      const e = r.uint32() + r.pos;
      let type = 0;
      let intVal = 0;
      let strVal = "";
      while (r.pos < e) {
        const t2 = r.uint32();
        if (t2 >>> 3 === 1) type = toNumber(r.int64());
        else if (t2 >>> 3 === 2) intVal = r.int32();
        else if (t2 >>> 3 === 3) strVal = r.string();
        else r.skipType(t2 & 7);
      }
      return type === 1 ? strVal : intVal;
    }
    case "time":
    case "microTime": {
      expectWire(wire, WIRE_LEN, field);
      const e = r.uint32() + r.pos;
      let seconds = 0;
      let nanos = 0;
      let empty = true;
      while (r.pos < e) {
        const t2 = r.uint32();
        empty = false;
        if (t2 >>> 3 === 1) seconds = toNumber(r.int64());
        else if (t2 >>> 3 === 2) nanos = r.int32();
        else r.skipType(t2 & 7);
      }
      // metav1.Time writes nothing for the zero time: absent.
      if (empty && !inCollection) return undefined;
      return formatTime(seconds, nanos, t.prim === "microTime");
    }
    case "any": {
      expectWire(wire, WIRE_LEN, field);
      const e = r.uint32() + r.pos;
      let raw: Uint8Array | undefined;
      while (r.pos < e) {
        const t2 = r.uint32();
        if (t2 >>> 3 === 1) raw = r.bytes();
        else r.skipType(t2 & 7);
      }
      if (!raw || raw.length === 0) return undefined;
      const text = new TextDecoder().decode(raw);
      try {
        return JSON.parse(text);
      } catch {
        throw new ProtobufDecodeError(`field ${field}: embedded raw object is not JSON`);
      }
    }
  }
}

function formatTime(seconds: number, nanos: number, micro: boolean): string {
  const d = new Date(seconds * 1000);
  const base = d.toISOString().slice(0, 19);
  if (!micro) return `${base}Z`;
  return `${base}.${String(Math.floor(nanos / 1000)).padStart(6, "0")}Z`;
}
