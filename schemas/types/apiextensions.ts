// apiextensions.k8s.io/v1 CustomResourceDefinition. The schema itself (JSONSchemaProps) is kept
// as the client wrote it (an open object): schemas/structural/ reads it, checks that it is
// structural, and serves the custom kind from it.
import { F, anyJson, atomicList, bool, double, int32, int64, keyedList, list, map, obj, str, strEnum, time } from "../dsl";
import type { ResourceDef } from "../registry";
import { validateCrd } from "../structural/crd-validation";
import { typeMetaFields } from "./meta";

const g = (n: string) => `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.${n}`;

export const JSONSchemaProps = obj(
  g("JSONSchemaProps"),
  () => ({
    description: F(str),
    type: F(str),
    format: F(str),
    properties: F(map(JSONSchemaProps)),
    items: F(anyJson),
    additionalProperties: F(anyJson),
    required: F(atomicList(str)),
    enum: F(atomicList(anyJson)),
    default: F(anyJson),
    nullable: F(bool),
    pattern: F(str),
    minimum: F(double),
    maximum: F(double),
    exclusiveMinimum: F(bool),
    exclusiveMaximum: F(bool),
    multipleOf: F(double),
    minLength: F(int64),
    maxLength: F(int64),
    minItems: F(int64),
    maxItems: F(int64),
    minProperties: F(int64),
    maxProperties: F(int64),
    uniqueItems: F(bool),
    "x-kubernetes-preserve-unknown-fields": F(bool),
    "x-kubernetes-int-or-string": F(bool),
    "x-kubernetes-embedded-resource": F(bool),
    "x-kubernetes-list-type": F(str),
    "x-kubernetes-list-map-keys": F(atomicList(str)),
    "x-kubernetes-map-type": F(str),
    "x-kubernetes-validations": F(atomicList(anyJson)),
  }),
  { open: true, desc: "JSONSchemaProps is a JSON-Schema following Specification Draft 4 (http://json-schema.org/)." },
);

const CustomResourceColumnDefinition = obj(g("CustomResourceColumnDefinition"), () => ({
  name: F(str, undefined, { required: true }),
  type: F(str, undefined, { required: true }),
  format: F(str),
  description: F(str),
  priority: F(int32),
  jsonPath: F(str, undefined, { required: true }),
}));

const CustomResourceSubresourceScale = obj(g("CustomResourceSubresourceScale"), () => ({
  specReplicasPath: F(str, undefined, { required: true }),
  statusReplicasPath: F(str, undefined, { required: true }),
  labelSelectorPath: F(str),
}));

const CustomResourceSubresources = obj(g("CustomResourceSubresources"), () => ({
  status: F(anyJson),
  scale: F(CustomResourceSubresourceScale),
}));

const CustomResourceDefinitionVersion = obj(g("CustomResourceDefinitionVersion"), () => ({
  name: F(str, undefined, { required: true }),
  served: F(bool, undefined, { required: true }),
  storage: F(bool, undefined, { required: true }),
  deprecated: F(bool),
  deprecationWarning: F(str),
  schema: F(obj(g("CustomResourceValidation"), () => ({ openAPIV3Schema: F(JSONSchemaProps) }))),
  subresources: F(CustomResourceSubresources),
  additionalPrinterColumns: F(atomicList(CustomResourceColumnDefinition)),
  selectableFields: F(atomicList(obj(g("SelectableField"), () => ({ jsonPath: F(str, undefined, { required: true }) })))),
}));

const CustomResourceDefinitionNames = obj(g("CustomResourceDefinitionNames"), () => ({
  plural: F(str, undefined, { required: true }),
  singular: F(str),
  shortNames: F(atomicList(str)),
  kind: F(str, undefined, { required: true }),
  listKind: F(str),
  categories: F(atomicList(str)),
}));

const WebhookClientConfig = obj(g("WebhookClientConfig"), () => ({
  url: F(str),
  service: F(obj(g("ServiceReference"), () => ({ namespace: F(str), name: F(str), path: F(str), port: F(int32) }))),
  caBundle: F(str),
}));

const CustomResourceConversion = obj(g("CustomResourceConversion"), () => ({
  strategy: F(strEnum(["None", "Webhook"]), undefined, { required: true }),
  webhook: F(obj(g("WebhookConversion"), () => ({ clientConfig: F(WebhookClientConfig), conversionReviewVersions: F(atomicList(str)) }))),
}));

const CustomResourceDefinitionCondition = obj(g("CustomResourceDefinitionCondition"), () => ({
  type: F(str, undefined, { required: true }),
  status: F(str, undefined, { required: true }),
  lastTransitionTime: F(time),
  reason: F(str),
  message: F(str),
}));

export const CustomResourceDefinition = obj(
  g("CustomResourceDefinition"),
  () => ({
    ...typeMetaFields(),
    spec: F(
      obj(g("CustomResourceDefinitionSpec"), () => ({
        group: F(str, undefined, { required: true }),
        names: F(CustomResourceDefinitionNames, undefined, { required: true }),
        scope: F(strEnum(["Namespaced", "Cluster"]), undefined, { required: true }),
        versions: F(atomicList(CustomResourceDefinitionVersion), undefined, { required: true }),
        conversion: F(CustomResourceConversion),
        preserveUnknownFields: F(bool),
      })),
      undefined,
      { required: true },
    ),
    status: F(
      obj(g("CustomResourceDefinitionStatus"), () => ({
        conditions: F(keyedList(CustomResourceDefinitionCondition, "type")),
        acceptedNames: F(CustomResourceDefinitionNames),
        storedVersions: F(list(str)),
      })),
    ),
  }),
  { desc: "CustomResourceDefinition represents a resource that should be exposed on the API server.  Its name MUST be in the format <.spec.name>.<.spec.group>." },
);

function defaultCrd(o: any): void {
  const spec = o.spec;
  if (!spec || typeof spec !== "object") return;
  spec.conversion ??= { strategy: "None" };
  const n = spec.names;
  if (n && typeof n === "object" && typeof n.kind === "string") {
    n.singular ??= typeof n.kind === "string" ? n.kind.toLowerCase() : undefined;
    n.listKind ??= `${n.kind}List`;
  }
}

export const resources: ResourceDef[] = [
  {
    group: "apiextensions.k8s.io",
    version: "v1",
    kind: "CustomResourceDefinition",
    plural: "customresourcedefinitions",
    singular: "customresourcedefinition",
    namespaced: false,
    shortNames: ["crd", "crds"],
    categories: ["api-extensions"],
    type: CustomResourceDefinition,
    subresources: { status: true },
    defaults: defaultCrd,
    validate: validateCrd,
    immutable: ["spec.group", "spec.scope"],
  },
];
