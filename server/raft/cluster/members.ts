// The member address book: each server's name, peer address and API URL, replicated as
// internal objects in the store (not served by the API) so every server knows how to reach
// the others. Raft's own configuration (voters, learners) is separate: it lives in the log.
import type { AppliedState } from "../../store/applied-state";
import type { Command } from "../../store/commands";

export const MEMBERS_RES = "skiff.io/raftmembers";

export interface MemberRecord {
  id: number;
  name: string;
  /** host:port of the peer (gRPC) listener. */
  raftAddr: string;
  /** https://host:port of the member's API. */
  apiUrl: string;
}

export function memberCommand(m: MemberRecord, exists: boolean): Command {
  const obj = { metadata: { name: String(m.id) }, spec: m };
  return exists ? { op: "update", res: MEMBERS_RES, ns: "", name: String(m.id), obj } : { op: "create", res: MEMBERS_RES, ns: "", name: String(m.id), obj };
}

export function memberDelete(id: number): Command {
  return { op: "delete", res: MEMBERS_RES, ns: "", name: String(id) };
}

/** The address book as applied on this server, reloaded whenever it changes. */
export class MemberBook {
  private table = new Map<number, MemberRecord>();
  private listeners: (() => void)[] = [];

  constructor(private readonly state: AppliedState) {
    this.load();
    state.onApplied((events) => {
      if (events.some((e) => e.res === MEMBERS_RES)) this.load();
    });
    state.onReset(() => this.load());
  }

  private load(): void {
    const m = new Map<number, MemberRecord>();
    for (const o of this.state.objects(MEMBERS_RES)) if (o?.spec?.id) m.set(o.spec.id, o.spec as MemberRecord);
    this.table = m;
    for (const l of this.listeners) l();
  }

  all(): Map<number, MemberRecord> {
    return this.table;
  }

  byName(name: string): MemberRecord | undefined {
    return [...this.table.values()].find((m) => m.name === name);
  }

  onChange(cb: () => void): void {
    this.listeners.push(cb);
  }
}
