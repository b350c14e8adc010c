// Table columns per "group/Kind" (core group is "": "/Pod"), reproducing the column definitions
// and cell logic of k8s.io/kubernetes/pkg/printers/internalversion/printers.go as the API server
// renders them for `as=Table` (always with Wide=true: priority-1 columns carry cells too; kubectl
// hides them unless -o wide). Kinds without an entry use `defaultColumns` (NAME, CREATED AT), the
// apiserver's default table convertor; custom resources without additionalPrinterColumns use
// `customResourceDefaultColumns` (NAME, AGE).
import type { Column } from "../registry";
import { appsColumns } from "./apps";
import { batchColumns } from "./batch";
import { coreColumns } from "./core";
import { defaultColumns } from "./format";
import { miscColumns } from "./misc";
import { networkingColumns } from "./networking";
import { rbacColumns } from "./rbac";

export { customResourceDefaultColumns, defaultColumns } from "./format";
export { podSummary } from "./core";

export const columnsByKind: Record<string, Column[]> = {
  ...coreColumns,
  ...appsColumns,
  ...batchColumns,
  ...networkingColumns,
  ...rbacColumns,
  ...miscColumns,
};

/** The columns for a kind: its printer's, else the default convertor's. */
export function columnsFor(group: string, kind: string): Column[] {
  return columnsByKind[`${group}/${kind}`] ?? defaultColumns;
}

/** One Table row's cells for an object, in column order. */
export function rowCells(columns: Column[], o: unknown, now: number): (string | number | boolean | null)[] {
  return columns.map((c) => c.cell(o, now));
}
