// SPDY (lib/spdy, with pako for its header compression) is loaded on the first exec, attach or
// port-forward, not at start: an idle agent never needs it (issue 4's idle-memory budget).
type Upgrade = typeof import("../../lib/spdy/upgrade.ts");

let loading: Promise<Upgrade> | null = null;

export function spdy(): Promise<Upgrade> {
  return (loading ??= import("../../lib/spdy/upgrade.ts"));
}
