import type { ResourceDef } from "../registry";
// Placeholder until the kinds of this file are written.
export const resources: ResourceDef[] = [];
