// What a normal Raft entry carries: a batch of store commands (one SQLite transaction when
// applied). JSON, because commands are JSON already.
import type { Command } from "../../store/commands";

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
