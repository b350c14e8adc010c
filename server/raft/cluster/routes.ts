// HTTPS routes for cluster membership, mounted into the API app (after its authentication
// middleware, which sets c.get("identity")):
//   POST /v1-skiff/raft/bootstrap  server token or admin: the cluster secrets for a joining server
//   POST /v1-skiff/raft/join       server token or admin: add a server as a learner
//   GET  /v1-skiff/raft/members    admin: `skiff cluster members`
//   POST /v1-skiff/raft/remove     admin: `skiff cluster remove NAME` ({"name": NAME})
//   POST /v1-skiff/raft/fault      admin, only with SKIFF_RAFT_FAULTS=1: {"block": [NAMES]}
//   POST /v1-skiff/raft/kv         admin, only with SKIFF_RAFT_BENCH=1: a raw KV put (benchmark)
import { Hono } from "hono";
import type { Identity } from "../../auth/authn";
import { ApiError, badRequest, forbidden } from "../../errors";
import type { Consensus } from "./consensus";

/** Paths the server token may call (besides /v1-skiff/node-credentials); never the agent token. */
export const JOIN_PATHS = new Set(["/v1-skiff/raft/bootstrap", "/v1-skiff/raft/join"]);

export function clusterRoutes(consensus: Consensus): Hono<{ Variables: { identity: Identity } }> {
  const app = new Hono<{ Variables: { identity: Identity } }>();
  const admin = (id: Identity | undefined) => !!id && id.groups.includes("system:masters");
  const joiner = (id: Identity | undefined) => !!id && (id.join === "server" || admin(id));
  const body = async (c: any) => {
    try {
      return await c.req.json();
    } catch {
      throw badRequest("send a JSON body");
    }
  };
  app.post("/v1-skiff/raft/bootstrap", (c) => {
    if (!joiner(c.get("identity"))) throw forbidden("only the server token may fetch the cluster secrets");
    return c.json(consensus.bootstrapSecrets());
  });
  app.post("/v1-skiff/raft/join", async (c) => {
    if (!joiner(c.get("identity"))) throw forbidden("only the server token may add a server");
    return c.json(await consensus.join(await body(c)));
  });
  app.get("/v1-skiff/raft/members", async (c) => {
    if (!admin(c.get("identity"))) throw forbidden("only cluster admins may list servers");
    return c.json({ members: await consensus.members() });
  });
  app.post("/v1-skiff/raft/remove", async (c) => {
    if (!admin(c.get("identity"))) throw forbidden("only cluster admins may remove servers");
    const b = await body(c);
    if (typeof b?.name !== "string" || !b.name) throw badRequest('send {"name": NAME}');
    return c.json(await consensus.remove(b.name));
  });
  app.post("/v1-skiff/raft/fault", async (c) => {
    if (process.env.SKIFF_RAFT_FAULTS !== "1") throw new ApiError(404, "NotFound", "fault injection is disabled");
    if (!admin(c.get("identity"))) throw forbidden("only cluster admins may inject faults");
    const b = await body(c);
    consensus.setBlocked(Array.isArray(b?.block) ? b.block.map(String) : []);
    return c.json({ blocked: b?.block ?? [] });
  });
  // Benchmark only (SKIFF_RAFT_BENCH=1): a key-value put through Raft to the applied state,
  // the level closest to etcd's Put. {"key": K, "value": V} → {"rev": N}
  app.post("/v1-skiff/raft/kv", async (c) => {
    if (process.env.SKIFF_RAFT_BENCH !== "1") throw new ApiError(404, "NotFound", "the benchmark endpoint is disabled");
    if (!admin(c.get("identity"))) throw forbidden("only cluster admins");
    const b = await body(c);
    const r = await consensus.proposer.propose({ op: "create", res: "skiff.io/benchkv", ns: "", name: String(b.key), obj: { v: String(b.value) } });
    if (!r.ok) throw new ApiError(409, "Conflict", JSON.stringify(r.error));
    return c.json({ rev: r.rev });
  });
  return app;
}
