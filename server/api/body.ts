// Request bodies: size-limited, decoded from JSON, YAML or Kubernetes protobuf.
// yaml is loaded on the first YAML body (clients send JSON): not carried by an idle server.
const parseDocument: typeof import("yaml").parseDocument = (...a) => (require("yaml") as typeof import("yaml")).parseDocument(...a);
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

/**
 * Refuses flow nesting ({ and [ outside quoted scalars and comments) deeper than MAX_DEPTH
 * before anything is built: the YAML parser spends ~0.6 s and ~100 MB on a 300 KB
 * `{a: {a: ...` before it gives up, and JSON.parse builds every level first. Block-style YAML
 * nests by indentation and stays cheap. A quote opens a scalar only where one may start (as
 * the parser reads it), so a stray apostrophe cannot hide what follows; a bracket inside a
 * plain scalar counts too, which only a pathological document notices.
 */
export function checkTextDepth(text: string, max = MAX_DEPTH): void {
  let depth = 0;
  let quote = 0; // the open quote's char code, or 0
  let prev = 10; // last char outside quotes that is not a space (10: start of a line)
  let indent = 0; // this line's indentation plus its compact "- - -" levels
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 && !quote) {
      prev = 10;
      indent = 0;
      continue;
    }
    if (quote) {
      if (c === 92 && quote === 34) i++; // backslash escape in "..."
      else if (c === quote) {
        if (quote === 39 && text.charCodeAt(i + 1) === 39) i++; // '' in '...'
        else quote = 0;
      }
      continue;
    }
    if (c === 32 || c === 9 || c === 13) {
      if (prev === 10) indent++;
      else prev = 32;
      continue;
    }
    if (c === 45 && (prev === 10 || prev === 32 || prev === 45) && (text.charCodeAt(i + 1) === 32 || text.charCodeAt(i + 1) === 10)) {
      if (++indent + depth > max) throw badRequest(`the request body is nested more than ${max} levels deep`);
      prev = 45;
      continue;
    }
    if (c === 35 /* # */ && (prev === 32 || prev === 10)) {
      const nl = text.indexOf("\n", i);
      if (nl < 0) break;
      i = nl - 1;
      continue;
    }
    if ((c === 34 || c === 39) && (prev === 10 || prev === 32 || prev === 58 || prev === 44 || prev === 91 || prev === 123 || prev === 45 || prev === 63)) quote = c;
    else if (c === 123 || c === 91) {
      if (++depth + indent > max) throw badRequest(`the request body is nested more than ${max} levels deep`);
    } else if ((c === 125 || c === 93) && depth > 0) depth--;
    prev = c;
  }
}

function parseTextUnchecked(text: string, yaml: boolean, strict: boolean): unknown {
  if (!text.trim()) throw badRequest("the request body is empty: send a JSON or YAML object");
  checkTextDepth(text);
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
