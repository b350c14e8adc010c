// meta.k8s.io/v1 Table responses for `kubectl get`.
import type { Column, RegisteredResource } from "../../schemas/registry";

export type IncludeObject = "None" | "Metadata" | "Object";

const DEFAULT_COLUMNS: Column[] = [
  { name: "Name", type: "string", format: "name", description: "Name must be unique within a namespace.", priority: 0, cell: (o) => o?.metadata?.name ?? "" },
  { name: "Created At", type: "date", description: "CreationTimestamp is a timestamp representing the server time when this object was created.", priority: 0, cell: (o) => o?.metadata?.creationTimestamp ?? null },
];

export function columnsFor(r: RegisteredResource): Column[] {
  return r.columns.length ? r.columns : DEFAULT_COLUMNS;
}

export function columnDefinitions(r: RegisteredResource) {
  return columnsFor(r).map((c) => ({ name: c.name, type: c.type, format: c.format ?? "", description: c.description, priority: c.priority }));
}

function rowObject(r: RegisteredResource, o: any, include: IncludeObject): any {
  if (include === "None") return undefined;
  if (include === "Object") return o;
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata };
}

export function tableRow(r: RegisteredResource, o: any, include: IncludeObject, now: number) {
  const cells = columnsFor(r).map((c) => {
    try {
      return c.cell(o, now);
    } catch {
      return "<unknown>";
    }
  });
  const row: any = { cells };
  const obj = rowObject(r, o, include);
  if (obj) row.object = obj;
  return row;
}

export function toTable(r: RegisteredResource, items: any[], meta: Record<string, unknown>, include: IncludeObject, withHeaders = true) {
  const now = Date.now();
  const t: any = { kind: "Table", apiVersion: "meta.k8s.io/v1", metadata: meta };
  t.columnDefinitions = withHeaders ? columnDefinitions(r) : null;
  t.rows = items.map((o) => tableRow(r, o, include, now));
  return t;
}

/** What representation the client asked for in Accept. */
export function negotiate(accept: string | undefined): "table" | "partial" | "json" | "protobuf-only" {
  if (!accept) return "json";
  let anyJson = false;
  for (const raw of accept.split(",")) {
    const part = raw.trim().toLowerCase();
    const mt = part.split(";")[0]!.trim();
    if (part.includes("as=table") && part.includes("g=meta.k8s.io")) return "table";
    if ((part.includes("as=partialobjectmetadatalist") || part.includes("as=partialobjectmetadata")) && part.includes("g=meta.k8s.io")) return "partial";
    if (mt === "application/json" || mt === "*/*" || mt === "application/*" || mt === "application/yaml" || mt === "") anyJson = true;
  }
  return anyJson ? "json" : "protobuf-only";
}
