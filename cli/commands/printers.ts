// Output the way kubectl prints it: Go-tabwriter-aligned tables from the server's Table
// objects, sorted-key YAML/JSON, resource/name lines and kubectl's human durations.
import { stringify as yamlStringify } from "yaml";
import { humanDuration } from "../../schemas/helpers/duration";

/** Go's text/tabwriter (no flags): cells are tab-terminated; the last cell of a line is free. */
export function tabwrite(text: string, minwidth: number, padding: number): string {
  const lines = text.split("\n").map((l) => l.split("\t"));
  const out: string[] = [];
  const widths: number[] = [];
  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const line = lines[i]!;
      let s = "";
      line.forEach((cell, j) => {
        s += cell;
        if (j < widths.length && j < line.length - 1) s += " ".repeat(Math.max(0, widths[j]! - strWidth(cell)));
      });
      out.push(s);
    }
  };
  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t]!.length - 1) continue;
      writeLines(line0, t);
      line0 = t;
      let width = minwidth;
      for (; t < line1; t++) {
        const line = lines[t]!;
        if (column >= line.length - 1) break;
        width = Math.max(width, strWidth(line[column]!) + padding);
      }
      widths.push(width);
      format(line0, t);
      widths.pop();
      line0 = t;
      t--; // the for-loop increment re-checks line t
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out.join("\n");
}

function strWidth(s: string): number {
  return [...s].length;
}

/** kubectl get's tabwriter: minwidth 6, padding 3. */
export function alignRows(rows: string[][], remembered?: number[]): string[] {
  if (remembered) {
    // Watch mode (RememberWidths): keep the first widths so later rows line up under the header.
    return rows.map((r) => r.map((c, j) => (j < r.length - 1 ? c.padEnd(Math.max(remembered[j] ?? 0, strWidth(c) + 3)) : c)).join(""));
  }
  return tabwrite(rows.map((r) => r.join("\t")).join("\n"), 6, 3).split("\n");
}

/** Column widths alignRows would use (for watch mode). */
export function columnWidths(rows: string[][]): number[] {
  const w: number[] = [];
  for (const r of rows) r.forEach((c, j) => (w[j] = Math.max(w[j] ?? 6, strWidth(c) + 3)));
  return w;
}

/** Age of an RFC 3339 timestamp, or "<unknown>". */
export function age(ts: string | undefined, now = Date.now()): string {
  if (!ts) return "<unknown>";
  const t = Date.parse(ts);
  return Number.isNaN(t) ? "<unknown>" : humanDuration(now - t);
}

export interface TableColumn {
  name: string;
  type?: string;
  format?: string;
  priority?: number;
}
export interface TableRow {
  cells: unknown[];
  object?: any;
}
export interface Table {
  kind: "Table";
  apiVersion?: string;
  metadata?: { resourceVersion?: string };
  columnDefinitions: TableColumn[];
  rows: TableRow[];
}

export interface TableOptions {
  wide?: boolean;
  /** -A: a NAMESPACE column first. */
  withNamespace?: boolean;
  noHeaders?: boolean;
  showLabels?: boolean;
  /** "deployment.apps" prefixes names as "deployment.apps/web" (several kinds, get all). */
  kindPrefix?: string;
  now?: number;
}

const ISO_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/;

function formatCell(v: unknown, col: TableColumn, now: number): string {
  if (v === null || v === undefined) return "<none>";
  // The server normally sends AGE already humanized; an RFC 3339 value in an Age column is
  // humanized here too ("Created At" stays a timestamp, as kubectl prints it).
  if (/age$/i.test(col.name) && typeof v === "string" && ISO_RE.test(v)) return age(v, now);
  if (typeof v === "string") return v.split(/[\r\n\f]/)[0]!; // kubectl cuts at the first newline
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export function formatLabels(labels: Record<string, string> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort();
  return keys.length ? keys.map((k) => `${k}=${labels![k]}`).join(",") : "<none>";
}

/** Header and rows of a Table as cell strings (not yet aligned). */
export function tableRows(table: Table, opts: TableOptions = {}, includeHeader = !opts.noHeaders): string[][] {
  const now = opts.now ?? Date.now();
  const cols = (table.columnDefinitions ?? [])
    .map((c, i) => ({ c, i }))
    .filter(({ c }) => opts.wide || !c.priority);
  const defs = table.columnDefinitions ?? [];
  let nameIdx = defs.findIndex((c) => c.format === "name");
  if (nameIdx < 0) nameIdx = defs.findIndex((c) => c.name.toLowerCase() === "name");
  const rows: string[][] = [];
  if (includeHeader) {
    const h = cols.map(({ c }) => c.name.toUpperCase());
    if (opts.withNamespace) h.unshift("NAMESPACE");
    if (opts.showLabels) h.push("LABELS");
    rows.push(h);
  }
  for (const row of table.rows ?? []) {
    const r = cols.map(({ c, i }) => {
      const s = formatCell(row.cells[i], c, now);
      return i === nameIdx && opts.kindPrefix ? `${opts.kindPrefix}/${s}` : s;
    });
    if (opts.withNamespace) r.unshift(row.object?.metadata?.namespace ?? "");
    if (opts.showLabels) r.push(formatLabels(row.object?.metadata?.labels));
    rows.push(r);
  }
  return rows;
}

export function printTable(table: Table, opts: TableOptions = {}): string {
  const rows = tableRows(table, opts);
  return rows.length ? alignRows(rows).join("\n") + "\n" : "";
}

/** Recursively sort object keys (kubectl prints unstructured objects with sorted keys). */
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as any)[k]);
    return out;
  }
  return v;
}

/** Drop metadata.managedFields (kubectl hides them by default). */
export function stripManagedFields<T>(o: T): T {
  const m = (o as any)?.metadata;
  if (m && "managedFields" in m) {
    const { managedFields: _mf, ...rest } = m;
    return { ...(o as any), metadata: rest };
  }
  return o;
}

export function toYaml(o: unknown): string {
  return yamlStringify(sortKeys(o), { version: "1.1", indentSeq: false, lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false });
}

export function toJson(o: unknown): string {
  return JSON.stringify(sortKeys(o), null, 4) + "\n";
}

/** "deployment.apps" / "pod": lowercase kind plus group, as kubectl names things in output. */
export function kindDotGroup(kind: string, group: string): string {
  return group ? `${kind.toLowerCase()}.${group}` : kind.toLowerCase();
}

/** "deployments.apps" / "pods": how Status messages name a resource. */
export function pluralDotGroup(plural: string, group: string): string {
  return group ? `${plural}.${group}` : plural;
}
