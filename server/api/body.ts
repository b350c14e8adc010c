// Request bodies: size-limited, decoded from JSON, YAML or Kubernetes protobuf.
import { parse as parseYaml } from "yaml";
import { findByKind } from "../../schemas/registry";
import { extraKinds } from "./extra-kinds";
import { decodeK8sProtobuf } from "./protobuf";
import { badRequest, tooLarge, unsupportedMediaType } from "./status";

export const MAX_BODY = 3 * 1024 * 1024;

export async function readBody(req: Request): Promise<Uint8Array> {
  const len = Number(req.headers.get("content-length") ?? "0");
  if (len > MAX_BODY) throw tooLarge(MAX_BODY);
  if (!req.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_BODY) {
      await reader.cancel().catch(() => {});
      throw tooLarge(MAX_BODY);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

export function mediaType(ct: string | null | undefined): string {
  return (ct ?? "").split(";")[0]!.trim().toLowerCase();
}

const ACCEPTED = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];

/** Decode an object body (create/update). */
export function decodeObject(bytes: Uint8Array, contentType: string | null | undefined): unknown {
  const mt = mediaType(contentType);
  if (mt === "application/vnd.kubernetes.protobuf") {
    try {
      return decodeK8sProtobuf(bytes, (apiVersion, kind) => findByKind(apiVersion, kind)?.type ?? extraKinds[`${apiVersion}/${kind}`]).object;
    } catch (e) {
      throw badRequest(`unable to decode protobuf body: ${(e as Error).message}`);
    }
  }
  const text = new TextDecoder().decode(bytes);
  if (mt === "application/yaml" || mt === "application/apply-patch+yaml") return parseText(text, true);
  if (mt === "application/json" || mt === "" || mt.endsWith("+json")) return parseText(text, false);
  throw unsupportedMediaType(mt, ACCEPTED);
}

export function parseText(text: string, yaml: boolean): unknown {
  if (!text.trim()) throw badRequest("the request body is empty: send a JSON or YAML object");
  if (!yaml) {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw badRequest(`json parse error: ${(e as Error).message}`);
    }
  }
  try {
    return parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw badRequest(`yaml parse error: ${(e as Error).message.split("\n")[0]}`);
  }
}

export function requireObject(v: unknown, what = "object"): Record<string, any> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw badRequest(`the request body must be a JSON or YAML ${what}, got ${Array.isArray(v) ? "an array" : typeof v === "object" ? "null" : typeof v}`);
  return v as Record<string, any>;
}
