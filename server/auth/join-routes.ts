// HTTPS routes for node identity, mounted into the API app after its authentication middleware:
//   POST /v1-skiff/node-credentials  join token, the node itself (renewal) or admin:
//                                    {"nodeName", "nodePassword"} → {"nodeName", "token", "expires", "caData"}
//   POST /v1-skiff/tokens/rotate     admin: {"type": "server"|"agent", "newToken"?} → {"type", "file", "token"}
import { Hono } from "hono";
import { badRequest, forbidden } from "../errors";
import type { Identity } from "./authn";
import type { JoinTokens } from "./join-tokens";
import type { NodeCredentialIssuer } from "./node-credentials";

export const NODE_CREDENTIALS_PATH = "/v1-skiff/node-credentials";

async function jsonBody(c: any): Promise<any> {
  try {
    return await c.req.json();
  } catch {
    throw badRequest("send a JSON object body");
  }
}

export function joinRoutes(o: { issuer: NodeCredentialIssuer; tokens: JoinTokens; caPem: string }): Hono<{ Variables: { identity: Identity } }> {
  const app = new Hono<{ Variables: { identity: Identity } }>();
  app.post(NODE_CREDENTIALS_PATH, async (c) => {
    const creds = await o.issuer.issue(c.get("identity"), await jsonBody(c));
    return c.json({ ...creds, caData: o.caPem });
  });
  app.post("/v1-skiff/tokens/rotate", async (c) => {
    const id = c.get("identity");
    if (!id.groups.includes("system:masters")) throw forbidden(`User "${id.user}" cannot rotate join tokens (cluster admins only)`);
    const b = await jsonBody(c);
    if (b?.type !== "server" && b?.type !== "agent") throw badRequest('send {"type": "server"} or {"type": "agent"}');
    if (b.newToken != null && typeof b.newToken !== "string") throw badRequest("newToken must be a string");
    const r = await o.tokens.rotate(b.type, b.newToken || undefined);
    return c.json({ type: b.type, ...r });
  });
  return app;
}
