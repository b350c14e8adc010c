// JSON Patch (RFC 6902). Kubernetes (evanphx/json-patch) answers a malformed patch document
// with 400 BadRequest and an operation that cannot be applied (missing path, failed test)
// with 422; we do the same and never throw anything else.
import { badRequest, invalid } from "./errors";
import { clone } from "./util";
import { deepEqual, isObj } from "../../../schemas/helpers/json";

type Container = Record<string, any> | any[];

function parsePointer(path: unknown, what: string): string[] {
  if (typeof path !== "string") throw badRequest(`json patch operation is missing "${what}"`);
  if (path === "") return [];
  if (path[0] !== "/") throw invalid(`invalid JSON pointer ${JSON.stringify(path)}: must start with "/"`);
  return path
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function arrayIndex(tok: string, len: number, forAdd: boolean, path: string): number {
  if (forAdd && tok === "-") return len;
  if (!/^(0|[1-9][0-9]*)$/.test(tok)) throw invalid(`invalid array index ${JSON.stringify(tok)} in path ${JSON.stringify(path)}`);
  const i = Number(tok);
  if (i > len || (!forAdd && i === len)) throw invalid(`array index ${i} out of bounds in path ${JSON.stringify(path)}`);
  return i;
}

/** Resolve the container holding the last token of `toks`. */
function parentOf(doc: any, toks: string[], path: string): Container {
  let cur = doc;
  for (let i = 0; i < toks.length - 1; i++) {
    const t = toks[i]!;
    if (Array.isArray(cur)) cur = cur[arrayIndex(t, cur.length, false, path)];
    else if (isObj(cur) && Object.prototype.hasOwnProperty.call(cur, t)) cur = cur[t];
    else throw invalid(`doc is missing path: ${JSON.stringify(path)}: missing value`);
  }
  if (!Array.isArray(cur) && !isObj(cur)) throw invalid(`doc is missing path: ${JSON.stringify(path)}: missing value`);
  return cur;
}

function get(doc: any, toks: string[], path: string): any {
  if (toks.length === 0) return doc;
  const p = parentOf(doc, toks, path);
  const last = toks[toks.length - 1]!;
  if (Array.isArray(p)) return p[arrayIndex(last, p.length, false, path)];
  if (!Object.prototype.hasOwnProperty.call(p, last)) throw invalid(`doc is missing path: ${JSON.stringify(path)}: missing value`);
  return p[last];
}

function remove(doc: any, toks: string[], path: string): any {
  if (toks.length === 0) throw invalid(`unable to remove the whole document`);
  const p = parentOf(doc, toks, path);
  const last = toks[toks.length - 1]!;
  if (Array.isArray(p)) {
    const i = arrayIndex(last, p.length, false, path);
    return p.splice(i, 1)[0];
  }
  if (!Object.prototype.hasOwnProperty.call(p, last)) throw invalid(`unable to remove nonexistent key: ${last}: missing value`);
  const v = p[last];
  delete p[last];
  return v;
}

/** add: returns the new document (replaced when the path is the root). */
function add(doc: any, toks: string[], value: any, path: string): any {
  if (toks.length === 0) return value;
  const p = parentOf(doc, toks, path);
  const last = toks[toks.length - 1]!;
  if (Array.isArray(p)) p.splice(arrayIndex(last, p.length, true, path), 0, value);
  else p[last] = value;
  return doc;
}

function replace(doc: any, toks: string[], value: any, path: string): any {
  if (toks.length === 0) return value;
  const p = parentOf(doc, toks, path);
  const last = toks[toks.length - 1]!;
  if (Array.isArray(p)) p[arrayIndex(last, p.length, false, path)] = value;
  else {
    if (!Object.prototype.hasOwnProperty.call(p, last)) throw invalid(`replace operation does not apply: doc is missing key: ${path}: missing value`);
    p[last] = value;
  }
  return doc;
}

export function applyJsonPatch(live: any, patch: unknown): any {
  if (!Array.isArray(patch)) throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  let doc = clone(live);
  for (const op of patch) {
    if (!isObj(op)) throw badRequest("json patch operation must be an object");
    const path = op.path;
    const toks = parsePointer(path, "path");
    switch (op.op) {
      case "add":
        if (!("value" in op)) throw badRequest(`add operation does not apply: missing value`);
        doc = add(doc, toks, clone(op.value), path);
        break;
      case "remove":
        remove(doc, toks, path);
        break;
      case "replace":
        if (!("value" in op)) throw badRequest(`replace operation does not apply: missing value`);
        doc = replace(doc, toks, clone(op.value), path);
        break;
      case "move": {
        const from = parsePointer(op.from, "from");
        if (op.from !== path && path.startsWith(op.from + "/")) throw invalid(`move operation cannot move ${op.from} into its own child ${path}`);
        const v = from.length === 0 ? doc : remove(doc, from, op.from);
        doc = add(doc, toks, v, path);
        break;
      }
      case "copy": {
        const from = parsePointer(op.from, "from");
        doc = add(doc, toks, clone(get(doc, from, op.from)), path);
        break;
      }
      case "test": {
        if (!("value" in op)) throw badRequest(`test operation does not apply: missing value`);
        let cur: any;
        try {
          cur = get(doc, toks, path);
        } catch {
          cur = undefined;
        }
        if (!deepEqual(cur, op.value)) throw invalid(`testing value ${path} failed: test failed`);
        break;
      }
      default:
        throw badRequest(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc;
}
