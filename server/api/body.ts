// Request bodies: size-limited, decoded from JSON, YAML or Kubernetes protobuf.
import { parseDocument } from "yaml";
import { duplicateJsonFields } from "./duplicate-fields";
import { findByKind } from "../../schemas/registry";
import { extraKinds } from "./extra-kinds";
import { decodeK8sProtobuf } from "./protobuf";
import { badRequest, tooLarge, unsupportedMediaType } from "../errors";

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

/** Decode an object body (create/update). With strict, duplicate JSON/YAML keys are a 400. */
export function decodeObject(bytes: Uint8Array, contentType: string | null | undefined, strict = false): unknown {
  const mt = mediaType(contentType);
  if (mt === "application/vnd.kubernetes.protobuf") {
    try {
      const obj = decodeK8sProtobuf(bytes, (apiVersion, kind) => findByKind(apiVersion, kind)?.type ?? extraKinds[`${apiVersion}/${kind}`]).object;
      checkDepth(obj);
      return obj;
    } catch (e) {
      throw badRequest(`unable to decode protobuf body: ${(e as Error).message}`);
    }
  }
  const text = new TextDecoder().decode(bytes);
  if (mt === "application/yaml") return parseText(text, true, strict);
  if (mt === "application/json" || mt === "") return parseText(text, false, strict);
  throw unsupportedMediaType(mt, ACCEPTED);
}

/** Deeper than this is no Kubernetes object; refusing it keeps recursive code off the stack limit. */
export const MAX_DEPTH = 1000;

function checkDepth(v: unknown): void {
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== "object") continue;
    if (d >= MAX_DEPTH) throw badRequest(`the request body is nested more than ${MAX_DEPTH} levels deep`);
    for (const c of Array.isArray(x) ? x : Object.values(x as object)) if (c !== null && typeof c === "object") stack.push([c, d + 1]);
  }
}

export function parseText(text: string, yaml: boolean, strict = false): unknown {
  const v = parseTextUnchecked(text, yaml, strict);
  checkDepth(v);
  return v;
}

function parseTextUnchecked(text: string, yaml: boolean, strict: boolean): unknown {
  if (!text.trim()) throw badRequest("the request body is empty: send a JSON or YAML object");
  // apply-patch+yaml bodies are usually JSON (kubectl sends JSON); JSON is valid YAML anyway.
  const trimmed = text.trimStart();
  if (!yaml || trimmed.startsWith("{") || trimmed.startsWith("[")) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      if (yaml) return parseYamlText(text, strict);
      throw badRequest(`json parse error: ${(e as Error).message}`);
    }
    if (strict) {
      const dups = duplicateJsonFields(text);
      if (dups.length) throw badRequest(`strict decoding error: ${dups.map((d) => `json: duplicate field "${d}"`).join(", ")}`);
    }
    return v;
  }
  return parseYamlText(text, strict);
}

function parseYamlText(text: string, strict: boolean): unknown {
  const doc = parseDocument(text, { uniqueKeys: true });
  const dup = doc.errors.find((e) => e.code === "DUPLICATE_KEY");
  if (dup) {
    if (strict) throw badRequest(`strict decoding error: yaml: ${dup.message.split("\n")[0]}`);
  } else if (doc.errors.length) throw badRequest(`yaml parse error: ${doc.errors[0]!.message.split("\n")[0]}`);
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw badRequest(`yaml parse error: ${(e as Error).message.split("\n")[0]}`);
  }
}

export function requireObject(v: unknown, what = "object"): Record<string, any> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw badRequest(`the request body must be a JSON or YAML ${what}, got ${Array.isArray(v) ? "an array" : typeof v === "object" ? "null" : typeof v}`);
  return v as Record<string, any>;
}
