// HTTPS routes for `skiff snapshot` (admins only), mounted into the API app:
//   POST   /v1-skiff/snapshots          {"name"?: N}: take a snapshot on this server now
//   GET    /v1-skiff/snapshots          this server's snapshots, newest first
//   DELETE /v1-skiff/snapshots/:file    delete one (its file name, as listed)
import { Hono } from "hono";
import type { Identity } from "../../auth/authn";
import { ApiError, badRequest, forbidden } from "../../errors";
import { BadNameError, type Snapshotter } from "./snapshots";

export function snapshotRoutes(snapshots: Snapshotter): Hono<{ Variables: { identity: Identity } }> {
  const app = new Hono<{ Variables: { identity: Identity } }>();
  const admin = (c: any) => {
    const id = c.get("identity") as Identity | undefined;
    if (!id?.groups.includes("system:masters")) throw forbidden("only cluster admins may manage snapshots");
  };
  const named = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof BadNameError) throw badRequest(e.message);
      throw e;
    }
  };
  app.post("/v1-skiff/snapshots", async (c) => {
    admin(c);
    let b: any = {};
    const text = await c.req.text();
    if (text.trim()) {
      try {
        b = JSON.parse(text);
      } catch {
        throw badRequest('send {"name": NAME} or nothing');
      }
    }
    if (b?.name !== undefined && typeof b.name !== "string") throw badRequest('"name" must be a string');
    return c.json(await named(() => snapshots.save(b?.name || undefined)));
  });
  app.get("/v1-skiff/snapshots", async (c) => {
    admin(c);
    return c.json({ dir: snapshots.dir, snapshots: await snapshots.list() });
  });
  app.delete("/v1-skiff/snapshots/:file", (c) => {
    admin(c);
    const f = c.req.param("file");
    const done = named(() => snapshots.delete([f]));
    if (!done.length) throw new ApiError(404, "NotFound", `no snapshot ${f} in ${snapshots.dir}`);
    return c.json({ deleted: done });
  });
  return app;
}
