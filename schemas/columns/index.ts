import type { Column } from "../registry";
// Placeholder: Table columns per "group/Kind".
export const columnsByKind: Record<string, Column[]> = {};
