// The store as the Raft node's application: an entry carries a batch of store commands
// (JSON, as commands are JSON already), applied in one state.db transaction that stays
// open across entries (see AppliedState.applyCommitted); snapshots are `VACUUM INTO`
// copies of state.db, next to raft.db.
import { closeSync, fsyncSync, openSync } from "node:fs";
import { join } from "node:path";
import type { AppliedState } from "../../store/applied-state";
import type { ApplyResult, Command } from "../../store/commands";
import type { Application } from "../node/types";

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeCommands(cmds: Command[]): Uint8Array {
  return enc.encode(JSON.stringify({ c: cmds }));
}

export function decodeCommands(data: Uint8Array): Command[] {
  if (data.length === 0) return [];
  const v = JSON.parse(dec.decode(data));
  return Array.isArray(v?.c) ? v.c : [];
}

/** `scratchDir`: where snapshot copies are written before the log storage takes them (raft.db's dir). */
export function storeApplication(state: AppliedState, scratchDir: string): Application<Command, ApplyResult, string> {
  state.manualCheckpoints();
  return {
    get appliedIndex() {
      return state.appliedIndex;
    },
    encode: encodeCommands,
    apply: (entries) => entries.map((e) => state.applyCommitted(e.index, e.type === "conf" ? [] : decodeCommands(e.data))),
    flush: () => state.commit(),
    pauseIfDue: () => state.checkpointIfDue(),
    snapshot(index) {
      const file = join(scratchDir, `vacuum-${index}.db`);
      const at = state.snapshotTo(file);
      if (at.appliedIndex !== index) throw new Error(`snapshot: state.db applied ${at.appliedIndex} ≠ raft applied ${index}`);
      const fd = openSync(file, "r+");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return file;
    },
    async snapshotAsync(index) {
      const file = join(scratchDir, `vacuum-${index}.db`);
      const at = await state.copyAsync(file);
      if (at.appliedIndex < index) throw new Error(`snapshot: state.db copy at ${at.appliedIndex} < raft applied ${index}`);
      return { index: at.appliedIndex, body: file };
    },
    restore: (file) => state.restoreFrom(file),
  };
}
