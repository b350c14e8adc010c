// `bun run bench secrets [count] [bytes]`: the cost of secrets encryption at rest in the store
// (server/encryption), in process on a real state.db: create, get and list of `count` Secrets
// of `bytes` value each, plain Store vs EncryptingStore (secretbox), with the opened-envelope
// cache warm (as after writes) and cold (as after a restart), and raw seal/open per Secret.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newDataKey, open, seal } from "../../server/encryption/envelope";
import type { Keyring } from "../../server/encryption/keyring";
import { EncryptingStore } from "../../server/encryption/store";
import { Store } from "../../server/store/store";

export async function main(args: string[]): Promise<void> {
  const count = Number(args[0]) || 2000;
  const bytes = Number(args[1]) || 1024;
  const key = newDataKey();
  const keyring: Keyring = { generation: 1, enabled: true, stage: "start", active: key.name, keys: [key] };
  const value = Buffer.from("x".repeat(bytes)).toString("base64");
  const rows: string[][] = [["store", "create µs/op", "get µs/op", `list ${count} ms`]];
  for (const kind of ["plain", "encrypted (warm)", "encrypted (cold)"]) {
    const dir = mkdtempSync(join(tmpdir(), "skiff-bench-secrets-"));
    const make = () => (kind === "plain" ? new Store({ dataDir: dir }) : new EncryptingStore({ dataDir: dir }, { current: () => keyring, ready: async () => {} }));
    let s = make();
    let t = performance.now();
    for (let i = 0; i < count; i++)
      await s.propose({ op: "create", res: "secrets", ns: "default", name: `s${i}`, obj: { apiVersion: "v1", kind: "Secret", metadata: { name: `s${i}`, namespace: "default", uid: `u${i}` }, data: { k: value } } });
    const create = ((performance.now() - t) / count) * 1000;
    if (kind === "encrypted (cold)") {
      s.close();
      s = make();
    }
    t = performance.now();
    s.list("secrets", undefined);
    const list = performance.now() - t;
    if (kind === "encrypted (cold)") {
      s.close();
      s = make();
    }
    t = performance.now();
    for (let i = 0; i < count; i++) s.get("secrets", "default", `s${i}`);
    const get = ((performance.now() - t) / count) * 1000;
    rows.push([kind, create.toFixed(0), get.toFixed(1), list.toFixed(1)]);
    s.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const pt = new TextEncoder().encode(JSON.stringify({ data: { k: value } }));
  for (let i = 0; i < 2000; i++) open(seal(key, pt), () => key);
  let t = performance.now();
  const sealed: string[] = [];
  for (let i = 0; i < 5000; i++) sealed.push(seal(key, pt));
  const sealUs = ((performance.now() - t) / 5000) * 1000;
  t = performance.now();
  for (const v of sealed) open(v, () => key);
  const openUs = ((performance.now() - t) / 5000) * 1000;
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(rows.map((r) => r.map((c, i) => c.padEnd(w[i]! + 2)).join("")).join("\n"));
  console.log(`\nsecretbox alone, ${pt.length} B plaintext: seal ${sealUs.toFixed(1)} µs, open ${openUs.toFixed(1)} µs`);
}
