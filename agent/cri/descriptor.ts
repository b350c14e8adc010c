// The CRI message and service descriptor, computed from schemas/proto/cri.proto by protobufjs
// at bundle/transpile time: client.ts imports criDescriptor() `with { type: "macro" }`, so Bun
// inlines the result as a literal and protobufjs (its parser and codegen cost the agent ~15 MB
// RSS) never loads at runtime. Type names are resolved here, so the runtime codec (codec.ts)
// only looks them up.

import protobuf from "protobufjs";
import protoText from "../../schemas/proto/cri.proto" with { type: "text" };

/** Scalar protobuf types the codec implements (anything else is a message or an enum). */
export const SCALARS = [
  "double",
  "float",
  "int32",
  "int64",
  "uint32",
  "uint64",
  "sint32",
  "sint64",
  "fixed32",
  "fixed64",
  "sfixed32",
  "sfixed64",
  "bool",
  "string",
  "bytes",
] as const;
export type Scalar = (typeof SCALARS)[number];

export interface FieldDesc {
  /** camelCase, as proto-loader (keepCase: false) names it. */
  name: string;
  id: number;
  /** A scalar, or the full name of a message or enum (no leading dot). */
  type: string;
  kind: "scalar" | "enum" | "message";
  repeated?: true;
  /** Packed encoding (proto3 repeated numeric fields). */
  packed?: true;
  /** map<keyType, type>. */
  keyType?: Scalar;
}

export interface CriDescriptor {
  messages: Record<string, FieldDesc[]>;
  /** Enum full name → value name → number (declaration order; proto3's default is the first). */
  enums: Record<string, Record<string, number>>;
  /** Service full name → method → [request type, response type]. */
  services: Record<string, Record<string, [string, string]>>;
}

export function criDescriptor(): CriDescriptor {
  const root = protobuf.parse(protoText, { keepCase: false }).root;
  root.resolveAll();
  const out: CriDescriptor = { messages: {}, enums: {}, services: {} };
  const full = (o: protobuf.ReflectionObject) => o.fullName.replace(/^\./, "");
  const walk = (ns: protobuf.NamespaceBase) => {
    for (const o of ns.nestedArray) {
      if (o instanceof protobuf.Type) {
        if (o.oneofsArray.length) throw new Error(`cri.proto: ${full(o)} has a oneof; agent/cri/codec.ts does not implement oneofs`);
        // by field number, the order protobufjs writes them in
        out.messages[full(o)] = [...o.fieldsArray].sort((a, b) => a.id - b.id).map((f) => {
          const d: FieldDesc = { name: f.name, id: f.id, type: f.type, kind: "scalar" };
          if (f.resolvedType) {
            d.type = full(f.resolvedType);
            d.kind = f.resolvedType instanceof protobuf.Enum ? "enum" : "message";
          } else if (!(SCALARS as readonly string[]).includes(f.type)) throw new Error(`cri.proto: ${full(f)}: unknown type ${f.type}`);
          if (f.repeated) d.repeated = true;
          if (f.packed && f.repeated && d.kind !== "message" && d.type !== "string" && d.type !== "bytes") d.packed = true;
          if (f instanceof protobuf.MapField) d.keyType = f.keyType as Scalar;
          return d;
        });
        walk(o);
      } else if (o instanceof protobuf.Enum) {
        out.enums[full(o)] = { ...o.values };
      } else if (o instanceof protobuf.Service) {
        const methods: Record<string, [string, string]> = {};
        for (const m of o.methodsArray) {
          if (m.requestStream || m.responseStream) throw new Error(`cri.proto: ${full(m)} streams; the CRI client only makes unary calls`);
          methods[m.name] = [full(m.resolvedRequestType!), full(m.resolvedResponseType!)];
        }
        out.services[full(o)] = methods;
      } else if (o instanceof protobuf.Namespace) walk(o);
    }
  };
  walk(root);
  return out;
}
