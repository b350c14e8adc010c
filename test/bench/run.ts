// `bun run bench <name>`: dispatch to a benchmark under test/bench/. Benchmarks print a
// table; they are never timed tests.
const benches: Record<string, () => Promise<{ main: (args: string[]) => Promise<void> }>> = {
  api: () => import("./api.ts"),
  scheduler: () => import("./scheduler.ts"),
  raft: () => import("./raft.ts"),
  snapinstall: () => import("./snapshot-install.ts"),
  podstart: () => import("./podstart.ts"),
  size: () => import("./size.ts"),
  idle: () => import("./idle.ts"),
  store: () => import("./store.ts"),
  crd: () => import("./crd.ts"),
  netpolicy: () => import("./netpolicy.ts"),
  secrets: () => import("./secrets.ts"),
  raftlog: () => import("./raftlog.ts"),
};

const [name, ...rest] = process.argv.slice(2);
if (!name || !benches[name]) {
  console.error(`usage: bun run bench <${Object.keys(benches).join("|")}> [args]`);
  process.exit(2);
}
const mod = await benches[name]!();
await mod.main(rest);
process.exit(0);
export {};
