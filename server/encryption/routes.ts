// HTTPS routes for `skiff secrets-encrypt` (cluster admins only), mounted into the API app
// after its authentication middleware:
//   GET  /v1-skiff/secrets-encrypt/status
//   POST /v1-skiff/secrets-encrypt/{enable,disable,prepare,rotate,reencrypt,rotate-keys}
// Each POST answers once done (rotate-keys and reencrypt after every Secret is rewritten)
// with the status afterwards.
import { Hono } from "hono";
import type { Identity } from "../auth/authn";
import { forbidden } from "../errors";
import type { SecretsEncryption } from "./manager";

export function secretsEncryptRoutes(enc: SecretsEncryption): Hono<{ Variables: { identity: Identity } }> {
  const app = new Hono<{ Variables: { identity: Identity } }>();
  const admin = (id: Identity | undefined) => {
    if (!id?.groups.includes("system:masters")) throw forbidden("only cluster admins may manage secrets encryption");
  };
  app.get("/v1-skiff/secrets-encrypt/status", (c) => {
    admin(c.get("identity"));
    return c.json(enc.status());
  });
  app.post("/v1-skiff/secrets-encrypt/:op", async (c) => {
    admin(c.get("identity"));
    return c.json(await enc.run(c.req.param("op")));
  });
  return app;
}
