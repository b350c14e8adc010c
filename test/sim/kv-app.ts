// The simulator's application: a key-value map with put and compare-and-set, behind the same
// contract the store implements for the node driver (Application in server/raft/node/types.ts),
// with the store's durability: applies join an open transaction committed a little later or
// at flush(); a process crash loses the open transaction, a power loss also what was
// committed after the last checkpoint (or part of it).
import { decodeConfChange } from "../../server/raft/core/config";
import type { Entry } from "../../server/raft/core/types";
import type { Application } from "../../server/raft/node/types";
import { Violation } from "./invariants";
import type { KvOutput } from "./linearizability";

export interface KvCmd {
  id: string;
  k: "put" | "cas";
  key: string;
  v: string;
  e?: string | null;
}

interface State {
  kv: Map<string, string>;
  applied: number;
}

export interface AppHooks {
  /** Run fn later on behalf of the owning process (the commit timer, a checkpoint). */
  later(fn: () => void, delay: number): void;
  /** How long a transaction stays open before it is committed. */
  commitDelay: number;
  /** A WAL checkpoint is due after this apply (pauses applies until it finishes). */
  checkpointDue(): number | undefined;
  /** Every applied entry (state machine safety, apply order). */
  onApply(e: Entry): void;
  onConf(e: Entry): void;
  /** A write was applied (by its id). */
  onCommand(id: string): void;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
// Snapshots carry padding so that InstallSnapshot needs several chunks.
const PAD = "#".repeat(200);

export class KvApp implements Application<KvCmd, KvOutput, Uint8Array> {
  kv = new Map<string, string>();
  applied = 0;
  private committed: State = { kv: new Map(), applied: 0 };
  private checkpointed: State = { kv: new Map(), applied: 0 };
  private inTxn = false;
  private txnSeq = 0;
  hooks: AppHooks | undefined;

  constructor(readonly id: number) {}

  get appliedIndex(): number {
    return this.applied;
  }

  encode(cmds: KvCmd[]): Uint8Array {
    return enc.encode(JSON.stringify({ c: cmds }));
  }

  apply(entries: Entry[]): KvOutput[][] {
    const out: KvOutput[][] = [];
    for (const e of entries) {
      if (e.index !== this.applied + 1) throw new Violation("apply-order", `node ${this.id} applies ${e.index} after ${this.applied}`);
      this.hooks!.onApply(e);
      this.applied = e.index;
      if (e.type === "conf") {
        decodeConfChange(e.data);
        this.hooks!.onConf(e);
        out.push([]);
        continue;
      }
      const cmds = e.data.length ? (JSON.parse(dec.decode(e.data)).c as KvCmd[]) : [];
      for (const c of cmds) this.hooks!.onCommand(c.id);
      out.push(cmds.map((c) => this.applyOne(c)));
    }
    if (!this.inTxn) {
      this.inTxn = true;
      const seq = ++this.txnSeq;
      this.hooks!.later(() => seq === this.txnSeq && this.flush(), this.hooks!.commitDelay);
    }
    return out;
  }

  private applyOne(c: KvCmd): KvOutput {
    if (c.k === "put") {
      this.kv.set(c.key, c.v);
      return {};
    }
    const ok = (this.kv.get(c.key) ?? null) === (c.e ?? null);
    if (ok) this.kv.set(c.key, c.v);
    return { ok };
  }

  flush(): void {
    this.inTxn = false;
    this.txnSeq++;
    this.committed = { kv: new Map(this.kv), applied: this.applied };
  }

  pauseIfDue(): Promise<void> | undefined {
    const delay = this.hooks!.checkpointDue();
    if (delay === undefined) return undefined;
    this.flush();
    const at = this.committed;
    return new Promise((resolve) =>
      this.hooks!.later(() => {
        this.checkpointed = at;
        resolve();
      }, delay),
    );
  }

  snapshot(index: number): Uint8Array {
    if (index !== this.applied) throw new Error(`snapshot: applied ${this.applied} ≠ raft applied ${index}`);
    return enc.encode(JSON.stringify({ kv: sorted(this.kv), applied: this.applied, pad: PAD }));
  }

  restore(body: Uint8Array): void {
    const v = JSON.parse(dec.decode(body)) as { kv: [string, string][]; applied: number; pad: string };
    if (v.pad !== PAD) throw new Violation("snapshot-corrupt", "snapshot data was not reassembled intact");
    this.kv = new Map(v.kv);
    this.applied = v.applied;
    this.inTxn = false;
    this.txnSeq++;
    // A restored state.db is a complete file on disk.
    this.committed = this.checkpointed = { kv: new Map(this.kv), applied: this.applied };
  }

  /** The process died: back to what its storage kept. */
  crash(powerLoss: boolean, keepCommitted: boolean): void {
    const s = powerLoss && !keepCommitted ? this.checkpointed : this.committed;
    this.kv = new Map(s.kv);
    this.applied = s.applied;
    this.inTxn = false;
    this.txnSeq++;
    if (powerLoss) this.committed = this.checkpointed = s;
  }

  state(): string {
    return JSON.stringify(sorted(this.kv));
  }
}

function sorted(kv: Map<string, string>): [string, string][] {
  return [...kv.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}
