// /openapi/v3 (index + one document per group-version) and /openapi/v2 (JSON, or gnostic
// protobuf for kubectl 1.27/1.28), derived from the registry. The documents are static for
// the life of the process: built on first use, then served from memory with ETags; a v3
// document fetched with its current ?hash= is immutable and may be cached forever, which is
// what kubectl's disk cache expects.
import { Hono, type Context } from "hono";
import { openapiV2, openapiV3, v3PathKey, type OpenAPIResource } from "../../schemas/derive/openapi";
import { encodeOpenAPIv2 } from "../../schemas/derive/gnostic";

/** Go's mime parser rejects the "@v1.0" spelling clients put in Accept; answer with the dotted one. */
export const OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

interface Served {
  body: string | Uint8Array;
  hash: string;
  contentType: string;
}

function hashOf(data: string | Uint8Array): string {
  return new Bun.CryptoHasher("sha512").update(data).digest("hex").toUpperCase();
}

function served(body: string | Uint8Array, contentType: string): Served {
  return { body, hash: hashOf(body), contentType };
}

/** Builds and caches the documents for a set of resources (the registry in production). */
export class OpenAPIDocuments {
  private v3 = new Map<string, Served>();
  private v3Index?: Served;
  private v2Json?: Served;
  private v2Proto?: Served;
  private v2Doc?: Record<string, any>;

  private builtAt?: number;

  constructor(
    private readonly resources: () => OpenAPIResource[],
    private readonly gvs: () => { group: string; version: string }[],
    /** Changes when the served kinds change (CustomResourceDefinitions): the cache is dropped. */
    private readonly generation: () => number = () => 0,
  ) {}

  private fresh(): void {
    const g = this.generation();
    if (this.builtAt !== g) this.reset();
    this.builtAt = g;
  }

  private v3Docs(): Map<string, Served> {
    this.fresh();
    if (this.v3.size === 0) {
      for (const { group, version } of this.gvs()) {
        this.v3.set(v3PathKey(group, version), served(JSON.stringify(openapiV3(this.resources(), group, version)), "application/json"));
      }
    }
    return this.v3;
  }

  index(): Served {
    this.fresh();
    if (!this.v3Index) {
      const paths: Record<string, { serverRelativeURL: string }> = {};
      for (const [key, doc] of this.v3Docs()) paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${doc.hash}` };
      this.v3Index = served(JSON.stringify({ paths }), "application/json");
    }
    return this.v3Index;
  }

  groupVersion(key: string): Served | undefined {
    return this.v3Docs().get(key);
  }

  private swagger() {
    this.fresh();
    return (this.v2Doc ??= openapiV2(this.resources()));
  }

  /** Forget every document (the served kinds changed). */
  reset(): void {
    this.v3.clear();
    this.v3Index = this.v2Json = this.v2Proto = this.v2Doc = undefined;
  }

  v2(protobuf: boolean): Served {
    this.fresh();
    if (protobuf) return (this.v2Proto ??= served(encodeOpenAPIv2(this.swagger()), OPENAPI_V2_PROTOBUF));
    return (this.v2Json ??= served(JSON.stringify(this.swagger()), "application/json"));
  }
}

// The registry is loaded on first use (require), so that this module and its tests do not
// depend on every kind file importing cleanly.
type RegistryModule = typeof import("../../schemas/registry");
const reg = (): RegistryModule => require("../../schemas/registry") as RegistryModule;
export const documents = new OpenAPIDocuments(
  () => reg().registry,
  () => reg().groupVersions(),
  () => reg().registryGeneration(),
);


function send(c: Context, doc: Served, immutable: boolean): Response {
  const etag = `"${doc.hash}"`;
  const headers: Record<string, string> = {
    "Content-Type": doc.contentType,
    ETag: etag,
    Vary: "Accept",
    "Cache-Control": immutable ? "public, immutable" : "no-cache, private",
  };
  if (immutable) headers.Expires = new Date(Date.now() + 365 * 24 * 3600 * 1000).toUTCString();
  const inm = c.req.header("If-None-Match");
  if (inm && inm.split(",").some((t) => t.trim() === etag || t.trim() === `W/${etag}`)) {
    return new Response(null, { status: 304, headers });
  }
  return new Response(doc.body, { status: 200, headers });
}

function notFound(c: Context, what: string): Response {
  return c.json(
    { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: `the server could not find the requested resource (${what})`, reason: "NotFound", details: {}, code: 404 },
    404,
  );
}

const wantsProtobuf = (c: Context) => (c.req.header("Accept") ?? "").includes("application/com.github.proto-openapi.spec.v2");

/** Builds the Hono app for a document set (tests pass their own; production uses the registry). */
export function makeOpenapiApp(docs: OpenAPIDocuments): Hono {
  const app = new Hono();
  app.get("/openapi/v3", (c) => send(c, docs.index(), false));
  app.get("/openapi/v3/", (c) => send(c, docs.index(), false));
  app.get("/openapi/v3/*", (c) => {
    const key = c.req.path.slice("/openapi/v3/".length).replace(/\/$/, "");
    const doc = docs.groupVersion(key);
    if (!doc) return notFound(c, `get openapi/v3/${key}`);
    return send(c, doc, c.req.query("hash") === doc.hash);
  });
  app.get("/openapi/v2", (c) => send(c, docs.v2(wantsProtobuf(c)), false));
  // The pre-1.14 location, still tried by old clients after /openapi/v2.
  app.get("/swagger-2.0.0.pb-v1", (c) => send(c, docs.v2(true), false));
  return app;
}

export const openapiApp: Hono = makeOpenapiApp(documents);
