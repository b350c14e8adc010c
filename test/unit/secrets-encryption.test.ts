// Secrets encryption at the store boundary (server/encryption): the secretbox envelope, the
// keyring sealed with the root key, and EncryptingStore on a real store of one (state.db).
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keyNameOf, newDataKey, open, seal, UnsealError } from "../../server/encryption/envelope";
import { keyringFrom, keyringObject, type Keyring } from "../../server/encryption/keyring";
import { EncryptingStore, SEALED_FIELD, storedKeyOf } from "../../server/encryption/store";
import { ExpiredError } from "../../server/store/store";

const text = (s: string) => new TextEncoder().encode(s);
let dir: string;
let keyring: Keyring;
let store: EncryptingStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "skiff-enc-"));
  const k = newDataKey();
  keyring = { generation: 1, enabled: true, stage: "start", active: k.name, keys: [k] };
  store = new EncryptingStore({ dataDir: dir }, { current: () => keyring, ready: async () => {} });
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const secret = (name: string, value: string, labels: Record<string, string> = {}) => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name, namespace: "default", uid: `uid-${name}`, labels, annotations: { note: `annotated-${value}` } },
  data: { k: Buffer.from(value).toString("base64") },
});

test("the envelope: k8s:enc:secretbox:v1:<key>:, opens only with its key and unaltered", () => {
  const k = newDataKey();
  const v = seal(k, text("hello"));
  expect(v.startsWith(`k8s:enc:secretbox:v1:${k.name}:`)).toBe(true);
  expect(keyNameOf(v)).toBe(k.name);
  expect(new TextDecoder().decode(open(v, () => k))).toBe("hello");
  expect(() => open(v, () => undefined)).toThrow(UnsealError);
  expect(() => open(v, () => ({ name: k.name, secret: newDataKey().secret }))).toThrow("does not open");
  const raw = Buffer.from(v.slice(v.lastIndexOf(":") + 1), "base64");
  raw[raw.length - 1]! ^= 1;
  expect(() => open(`${v.slice(0, v.lastIndexOf(":") + 1)}${raw.toString("base64")}`, () => k)).toThrow(UnsealError);
  // Two seals of one value differ (random nonce).
  expect(seal(k, text("hello"))).not.toBe(v);
});

test("the keyring object keeps key material sealed with the root key", () => {
  const root = { name: "root", secret: crypto.getRandomValues(new Uint8Array(32)) };
  const obj = keyringObject(keyring, root);
  expect(JSON.stringify(obj)).not.toContain(Buffer.from(keyring.keys[0]!.secret).toString("base64"));
  const back = keyringFrom(obj, root);
  expect(back.active).toBe(keyring.active);
  expect(Buffer.from(back.keys[0]!.secret).equals(Buffer.from(keyring.keys[0]!.secret))).toBe(true);
  expect(() => keyringFrom(obj, { name: "root", secret: new Uint8Array(32) })).toThrow(UnsealError);
});

test("secrets are sealed in state.db and open on get, list (with selectors), watch and in write answers", async () => {
  const created = await store.propose({ op: "create", res: "secrets", ns: "default", name: "a", obj: secret("a", "value-a", { app: "x" }) });
  expect(created.ok && created.obj.data.k).toBe(Buffer.from("value-a").toString("base64"));
  await store.propose({ op: "txn", cmds: [{ op: "create", res: "secrets", ns: "default", name: "b", obj: secret("b", "value-b") }] });
  await store.propose({ op: "create", res: "configmaps", ns: "default", name: "c", obj: { metadata: { name: "c", namespace: "default" }, data: { k: "plain-config" } } });
  const raw = JSON.parse(store.sm.getRow("secrets", "default", "a")!.value);
  expect(raw[SEALED_FIELD]).toStartWith(`k8s:enc:secretbox:v1:${keyring.active}:`);
  expect(raw.data).toBeUndefined();
  expect(raw.metadata.annotations).toBeUndefined();
  expect(storedKeyOf(raw)).toBe(keyring.active);
  // A configmap is not encrypted.
  expect(JSON.parse(store.sm.getRow("configmaps", "default", "c")!.value).data.k).toBe("plain-config");
  const got = store.get("secrets", "default", "a")!.obj;
  expect(got.metadata.annotations.note).toBe("annotated-value-a");
  expect(got.metadata.resourceVersion).toBe(raw.metadata.resourceVersion);
  const sel = store.list("secrets", "default", { match: (o) => o.metadata.labels?.app === "x" });
  expect(sel.items.map((o) => o.metadata.name)).toEqual(["a"]);
  const seen: any[] = [];
  const stop = store.watch({ res: "secrets", match: () => true, send: (t, o) => seen.push([t, o]) }, 0);
  await store.propose({ op: "update", res: "secrets", ns: "default", name: "a", obj: secret("a", "value-a2") });
  const del = await store.propose({ op: "delete", res: "secrets", ns: "default", name: "b" });
  stop();
  expect(del.ok && del.obj.data.k).toBe(Buffer.from("value-b").toString("base64"));
  expect(seen.map(([t, o]) => `${t} ${o.metadata.name} ${Buffer.from(o.data.k, "base64")}`)).toEqual(["ADDED a value-a", "ADDED b value-b", "MODIFIED a value-a2", "DELETED b value-b"]);
  // No value, nor its base64, in any file of the store.
  store.sm.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  for (const f of readdirSync(dir)) {
    const buf = readFileSync(join(dir, f));
    for (const v of ["value-a", "value-b"]) {
      expect(buf.includes(Buffer.from(v))).toBe(false);
      expect(buf.includes(Buffer.from(Buffer.from(v).toString("base64")))).toBe(false);
    }
  }
});

test("an envelope moved to another row does not open; history sealed with a retired key is 410 Gone", async () => {
  await store.propose({ op: "create", res: "secrets", ns: "default", name: "a", obj: secret("a", "one") });
  const rev1 = store.rev;
  const sealedA = JSON.parse(store.sm.getRow("secrets", "default", "a")!.value);
  // Moving the envelope of "a" under the name "b" is caught by the clear-metadata check.
  expect(() => store.unseal({ ...sealedA, metadata: { ...sealedA.metadata, name: "b", uid: "uid-b" } })).toThrow(UnsealError);
  // Rotate: a new active key, "a" rewritten with it, then the old key dropped.
  const [k1] = keyring.keys;
  const k2 = newDataKey();
  keyring = { ...keyring, generation: 2, active: k2.name, keys: [k2, k1!] };
  await store.propose({ op: "update", res: "secrets", ns: "default", name: "a", obj: store.get("secrets", "default", "a")!.obj });
  keyring = { ...keyring, generation: 3, keys: [k2] };
  expect(Buffer.from(store.get("secrets", "default", "a")!.obj.data.k, "base64").toString()).toBe("one");
  expect(() => store.list("secrets", "default", { atRev: rev1 })).toThrow(ExpiredError);
  expect(() => store.watch({ res: "secrets", match: () => true, send: () => {} }, rev1)).toThrow(ExpiredError);
  // Without the key at all, a current read is a clear 500, not a crash.
  keyring = { ...keyring, keys: [] };
  expect(() => store.get("secrets", "default", "a")).toThrow(`key "${k2.name}" is not in this server's keyring`);
});

test("disabled: new writes are stored in clear, sealed ones still open", async () => {
  await store.propose({ op: "create", res: "secrets", ns: "default", name: "a", obj: secret("a", "sealed-one") });
  keyring = { ...keyring, enabled: false };
  await store.propose({ op: "create", res: "secrets", ns: "default", name: "b", obj: secret("b", "clear-one") });
  expect(storedKeyOf(JSON.parse(store.sm.getRow("secrets", "default", "a")!.value))).toBe(keyring.active);
  expect(JSON.parse(store.sm.getRow("secrets", "default", "b")!.value).data.k).toBe(Buffer.from("clear-one").toString("base64"));
  expect(store.list("secrets", "default").items.map((o) => Buffer.from(o.data.k, "base64").toString())).toEqual(["sealed-one", "clear-one"]);
});
