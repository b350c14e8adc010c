// The swagger 2.0 document as gnostic's `openapi.v2.Document` protobuf
// (github.com/google/gnostic openapiv2/OpenAPIv2.proto), which is what kubectl 1.27/1.28 ask
// for (`Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`) before
// `apply -f`. Only the messages a Kubernetes document uses are declared; field numbers are
// the upstream ones. Vendor extensions and other free-form values travel as `Any.yaml`
// strings; JSON is valid YAML, so they are written as JSON.
import type protobuf from "protobufjs";

const PROTO = `
syntax = "proto3";
package openapi.v2;
message GoogleAny { string type_url = 1; bytes value = 2; }
message Any { GoogleAny value = 1; string yaml = 2; }
message NamedAny { string name = 1; Any value = 2; }
message Document {
  string swagger = 1; Info info = 2; string host = 3; string base_path = 4;
  repeated string schemes = 5; repeated string consumes = 6; repeated string produces = 7;
  Paths paths = 8; Definitions definitions = 9; ParameterDefinitions parameters = 10;
  repeated SecurityRequirement security = 12; SecurityDefinitions security_definitions = 13;
  repeated NamedAny vendor_extension = 16;
}
message Info { string title = 1; string version = 2; string description = 3; repeated NamedAny vendor_extension = 7; }
message Paths { repeated NamedAny vendor_extension = 1; repeated NamedPathItem path = 2; }
message NamedPathItem { string name = 1; PathItem value = 2; }
message PathItem {
  string _ref = 1; Operation get = 2; Operation put = 3; Operation post = 4; Operation delete = 5;
  Operation options = 6; Operation head = 7; Operation patch = 8;
  repeated ParametersItem parameters = 9; repeated NamedAny vendor_extension = 10;
}
message Operation {
  repeated string tags = 1; string summary = 2; string description = 3; string operation_id = 5;
  repeated string produces = 6; repeated string consumes = 7; repeated ParametersItem parameters = 8;
  Responses responses = 9; repeated string schemes = 10; bool deprecated = 11;
  repeated NamedAny vendor_extension = 13;
}
message ParametersItem { oneof oneof { Parameter parameter = 1; JsonReference json_reference = 2; } }
message JsonReference { string _ref = 1; string description = 2; }
message Parameter { oneof oneof { BodyParameter body_parameter = 1; NonBodyParameter non_body_parameter = 2; } }
message BodyParameter { string description = 1; string name = 2; string in = 3; bool required = 4; Schema schema = 5; repeated NamedAny vendor_extension = 6; }
message NonBodyParameter { oneof oneof { QueryParameterSubSchema query_parameter_sub_schema = 3; PathParameterSubSchema path_parameter_sub_schema = 4; } }
message QueryParameterSubSchema {
  bool required = 1; string in = 2; string description = 3; string name = 4; bool allow_empty_value = 5;
  string type = 6; string format = 7; bool unique_items = 20; repeated NamedAny vendor_extension = 23;
}
message PathParameterSubSchema {
  bool required = 1; string in = 2; string description = 3; string name = 4; string type = 5; string format = 6;
  bool unique_items = 19; repeated NamedAny vendor_extension = 22;
}
message Responses { repeated NamedResponseValue response_code = 1; repeated NamedAny vendor_extension = 2; }
message NamedResponseValue { string name = 1; ResponseValue value = 2; }
message ResponseValue { oneof oneof { Response response = 1; JsonReference json_reference = 2; } }
message Response { string description = 1; SchemaItem schema = 2; repeated NamedAny vendor_extension = 5; }
message SchemaItem { oneof oneof { Schema schema = 1; } }
message Definitions { repeated NamedSchema additional_properties = 1; }
message NamedSchema { string name = 1; Schema value = 2; }
message Properties { repeated NamedSchema additional_properties = 1; }
message AdditionalPropertiesItem { oneof oneof { Schema schema = 1; bool boolean = 2; } }
message TypeItem { repeated string value = 1; }
message ItemsItem { repeated Schema schema = 1; }
message Schema {
  string _ref = 1; string format = 2; string title = 3; string description = 4; Any default = 5;
  double multiple_of = 6; double maximum = 7; bool exclusive_maximum = 8; double minimum = 9; bool exclusive_minimum = 10;
  int64 max_length = 11; int64 min_length = 12; string pattern = 13; int64 max_items = 14; int64 min_items = 15;
  bool unique_items = 16; int64 max_properties = 17; int64 min_properties = 18;
  repeated string required = 19; repeated Any enum = 20; AdditionalPropertiesItem additional_properties = 21;
  TypeItem type = 22; ItemsItem items = 23; repeated Schema all_of = 24; Properties properties = 25;
  string discriminator = 26; bool read_only = 27; Any example = 30; repeated NamedAny vendor_extension = 31;
}
message SecurityDefinitions { repeated NamedSecurityDefinitionsItem additional_properties = 1; }
message NamedSecurityDefinitionsItem { string name = 1; SecurityDefinitionsItem value = 2; }
message SecurityDefinitionsItem { oneof oneof { ApiKeySecurity api_key_security = 2; } }
message ApiKeySecurity { string type = 1; string name = 2; string in = 3; string description = 4; repeated NamedAny vendor_extension = 5; }
message SecurityRequirement { repeated NamedStringArray additional_properties = 1; }
message NamedStringArray { string name = 1; StringArray value = 2; }
message StringArray { repeated string value = 1; }
message ParameterDefinitions { repeated NamedParameter additional_properties = 1; }
message NamedParameter { string name = 1; Parameter value = 2; }
`;

let root: protobuf.Root | undefined;
export function gnosticRoot(): protobuf.Root {
  // protobufjs's full build (the .proto parser) is loaded on the first protobuf /openapi/v2 request.
  return (root ??= (require("protobufjs") as typeof protobuf).parse(PROTO, { keepCase: true }).root);
}

type Json = Record<string, any>;

const anyOf = (v: unknown) => ({ yaml: JSON.stringify(v) });
const extensions = (o: Json) =>
  Object.entries(o)
    .filter(([k]) => k.startsWith("x-"))
    .map(([name, v]) => ({ name, value: anyOf(v) }));

function schema(s: Json): Json {
  const out: Json = {};
  if (s.$ref) out._ref = s.$ref;
  if (s.format) out.format = s.format;
  if (s.title) out.title = s.title;
  if (s.description) out.description = s.description;
  if (s.default !== undefined) out.default = anyOf(s.default);
  if (s.uniqueItems) out.unique_items = true;
  if (Array.isArray(s.required)) out.required = s.required;
  if (Array.isArray(s.enum)) out.enum = s.enum.map(anyOf);
  if (s.additionalProperties !== undefined)
    out.additional_properties = typeof s.additionalProperties === "boolean" ? { boolean: s.additionalProperties } : { schema: schema(s.additionalProperties) };
  if (s.type) out.type = { value: Array.isArray(s.type) ? s.type : [s.type] };
  if (s.items) out.items = { schema: (Array.isArray(s.items) ? s.items : [s.items]).map(schema) };
  if (Array.isArray(s.allOf)) out.all_of = s.allOf.map(schema);
  if (s.properties) out.properties = { additional_properties: Object.entries(s.properties).map(([name, v]) => ({ name, value: schema(v as Json) })) };
  if (s.readOnly) out.read_only = true;
  const ext = extensions(s);
  if (ext.length) out.vendor_extension = ext;
  return out;
}

function parameter(p: Json): Json {
  if (p.$ref) return { json_reference: { _ref: p.$ref } };
  if (p.in === "body") {
    return { parameter: { body_parameter: { description: p.description ?? "", name: p.name, in: "body", required: !!p.required, schema: schema(p.schema ?? {}) } } };
  }
  const sub = { required: !!p.required, in: p.in, description: p.description ?? "", name: p.name, type: p.type ?? "", format: p.format ?? "", unique_items: !!p.uniqueItems };
  return { parameter: { non_body_parameter: p.in === "path" ? { path_parameter_sub_schema: sub } : { query_parameter_sub_schema: sub } } };
}

function operation(o: Json): Json {
  return {
    tags: o.tags ?? [],
    summary: o.summary ?? "",
    description: o.description ?? "",
    operation_id: o.operationId ?? "",
    produces: o.produces ?? [],
    consumes: o.consumes ?? [],
    parameters: (o.parameters ?? []).map(parameter),
    responses: {
      response_code: Object.entries(o.responses ?? {}).map(([name, r]) => {
        const resp = r as Json;
        const value: Json = { description: resp.description ?? "" };
        if (resp.schema) value.schema = { schema: schema(resp.schema) };
        return { name, value: { response: value } };
      }),
    },
    schemes: o.schemes ?? [],
    deprecated: !!o.deprecated,
    vendor_extension: extensions(o),
  };
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch"] as const;

/** Encode a swagger 2.0 JSON document as gnostic's openapi.v2.Document protobuf. */
export function encodeOpenAPIv2(doc: Json): Uint8Array {
  const Document = gnosticRoot().lookupType("openapi.v2.Document");
  const msg: Json = {
    swagger: doc.swagger,
    info: { title: doc.info?.title ?? "", version: doc.info?.version ?? "" },
    paths: {
      path: Object.entries(doc.paths ?? {}).map(([name, item]) => {
        const pi = item as Json;
        const value: Json = {};
        for (const m of METHODS) if (pi[m]) value[m] = operation(pi[m]);
        if (pi.parameters) value.parameters = pi.parameters.map(parameter);
        return { name, value };
      }),
    },
    definitions: { additional_properties: Object.entries(doc.definitions ?? {}).map(([name, s]) => ({ name, value: schema(s as Json) })) },
  };
  if (doc.securityDefinitions) {
    msg.security_definitions = {
      additional_properties: Object.entries(doc.securityDefinitions).map(([name, d]) => {
        const def = d as Json;
        return { name, value: { api_key_security: { type: def.type, name: def.name, in: def.in, description: def.description ?? "" } } };
      }),
    };
  }
  if (doc.security) {
    msg.security = (doc.security as Json[]).map((req) => ({
      additional_properties: Object.entries(req).map(([name, v]) => ({ name, value: { value: v as string[] } })),
    }));
  }
  return Document.encode(Document.fromObject(msg)).finish();
}

/** Decode (for tests and tools): the protobuf back to a plain object with gnostic's field names. */
export function decodeOpenAPIv2(buf: Uint8Array): Json {
  const Document = gnosticRoot().lookupType("openapi.v2.Document");
  return Document.toObject(Document.decode(buf), { defaults: false, arrays: true }) as Json;
}
