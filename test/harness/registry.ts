// A small OCI distribution registry for e2e tests: the read side of the distribution API
// (GET /v2/, HEAD/GET manifests by tag or digest, GET blobs), plain HTTP on 127.0.0.1, optional
// Basic auth per repository prefix. containerd pulls from it for real; the test reads `requests`
// to see what was fetched. There is no registry reachable from this machine, so this stands in
// for one the way a local `registry:2` would.
//
//   const reg = startRegistry();
//   reg.push("team/app:v1", buildOciArchive({...}));
//   reg.requireAuth("private/", "user", "secret");
//   writeHostsToml(certsDir, reg.host);   // containerd: pull over plain HTTP
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { OciArchive } from "../../agent/images/oci.ts";

const MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

export interface TestRegistry {
  /** "127.0.0.1:PORT" */
  host: string;
  /** "METHOD /v2/…" of every request, in order, with the answer's status. */
  requests: { method: string; path: string; status: number }[];
  push(repoTag: string, image: OciArchive): void;
  requireAuth(repoPrefix: string, user: string, password: string): void;
  stop(): void;
}

export function startRegistry(): TestRegistry {
  const blobs = new Map<string, Uint8Array>();
  const tags = new Map<string, string>(); // "repo:tag" → manifest digest
  const manifests = new Set<string>();
  const auth: { prefix: string; header: string }[] = [];
  const requests: TestRegistry["requests"] = [];

  const answer = (req: Request): Response => {
    const url = new URL(req.url);
    const p = url.pathname;
    if (p === "/v2/" || p === "/v2") return new Response("{}", { headers: { "content-type": "application/json", "docker-distribution-api-version": "registry/2.0" } });
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(p);
    if (!m) return new Response(JSON.stringify({ errors: [{ code: "UNSUPPORTED" }] }), { status: 404 });
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    const guard = auth.find((a) => repo.startsWith(a.prefix));
    if (guard && req.headers.get("authorization") !== guard.header) {
      return new Response(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }), {
        status: 401,
        headers: { "www-authenticate": `Basic realm="skiff-test-registry"`, "content-type": "application/json" },
      });
    }
    const digest = kind === "manifests" && !ref.startsWith("sha256:") ? tags.get(`${repo}:${ref}`) : ref;
    const body = digest ? blobs.get(digest) : undefined;
    if (!digest || !body || (kind === "manifests" && !manifests.has(digest))) {
      const code = kind === "manifests" ? "MANIFEST_UNKNOWN" : "BLOB_UNKNOWN";
      return new Response(JSON.stringify({ errors: [{ code, message: `${repo} ${ref} unknown` }] }), { status: 404, headers: { "content-type": "application/json" } });
    }
    const headers = {
      "content-type": kind === "manifests" ? MT_MANIFEST : "application/octet-stream",
      "docker-content-digest": digest,
      "content-length": String(body.length),
    };
    return new Response(req.method === "HEAD" ? null : body, { headers });
  };

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const res = answer(req);
      requests.push({ method: req.method, path: new URL(req.url).pathname, status: res.status });
      return res;
    },
  });

  return {
    host: `127.0.0.1:${server.port}`,
    requests,
    push(repoTag, image) {
      const colon = repoTag.lastIndexOf(":");
      for (const [d, b] of image.blobs) blobs.set(d, b);
      manifests.add(image.manifestDigest);
      tags.set(`${repoTag.slice(0, colon)}:${repoTag.slice(colon + 1)}`, image.manifestDigest);
    },
    requireAuth(repoPrefix, user, password) {
      auth.push({ prefix: repoPrefix, header: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });
    },
    stop() {
      server.stop(true);
    },
  };
}

/** containerd hosts.toml for a plain-HTTP registry, under the agent's certs.d directory. */
export function writeHostsToml(certsDir: string, host: string): void {
  const dir = join(certsDir, host);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "hosts.toml"),
    `server = "http://${host}"\n\n[host."http://${host}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
}
