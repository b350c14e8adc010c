// The control plane: Raft members, leader, term and lag (what `skiff cluster members` shows).
// Membership has no watch; it is read again when a watched change arrives (every write goes
// through Raft, and node leases renew every 10 s), at most every 2 s, and on demand.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, request } from "../api";
import { onActivity } from "../store";
import { Badge, ErrorNote, Section, Table, type Col } from "../ui";

export interface Member {
  id: string;
  name: string;
  address: string;
  apiUrl?: string;
  role: string;
  leader: boolean;
  reachable: boolean;
  term?: number;
  applied?: number;
  commit?: number;
  lag?: number;
}

export function useMembers(): { members?: Member[]; error?: ApiError; at?: number; refresh: () => void } {
  const [s, setS] = useState<{ members?: Member[]; error?: ApiError; at?: number }>({});
  const last = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const load = async () => {
    timer.current = undefined;
    last.current = Date.now();
    try {
      const r = await request<{ members: Member[] }>("GET", "/v1-skiff/raft/members");
      setS({ members: r.members, at: Date.now() });
    } catch (e) {
      setS({ error: e as ApiError, at: Date.now() });
    }
  };
  useEffect(() => {
    void load();
    const off = onActivity(() => {
      if (timer.current !== undefined || s.error?.code === 403) return;
      timer.current = setTimeout(load, Math.max(0, last.current + 2000 - Date.now()));
    });
    return () => {
      off();
      if (timer.current !== undefined) clearTimeout(timer.current);
    };
  }, [s.error?.code === 403]);
  return { ...s, refresh: () => void load() };
}

const cols: Col<Member>[] = [
  { h: "Name", cell: (m) => <strong>{m.name}</strong> },
  { h: "Role", cell: (m) => (m.leader ? <Badge text="leader" kind="good" /> : <span>{m.role}</span>) },
  { h: "Address", cls: "mono hide-sm", cell: (m) => m.address },
  { h: "Term", cls: "num", cell: (m) => m.term ?? "-" },
  { h: "Applied", cls: "num", cell: (m) => m.applied ?? "-" },
  { h: "Commit", cls: "num hide-sm", cell: (m) => m.commit ?? "-" },
  { h: "Lag", cls: "num", cell: (m) => <span class={(m.lag ?? 0) > 100 ? "warn-text" : ""}>{m.lag ?? "-"}</span> },
  { h: "Status", cell: (m) => <Badge text={m.reachable ? "ok" : "Unreachable"} /> },
];

export function MembersTable(p: { members: Member[] }) {
  return <Table label="Control-plane members" cols={cols} rows={p.members} rowKey={(m) => m.id} />;
}

export function ControlPlane() {
  const m = useMembers();
  const leader = m.members?.find((x) => x.leader);
  const voters = m.members?.filter((x) => x.role === "voter").length ?? 0;
  return (
    <Section
      title="Control plane"
      id="cp-h"
      actions={
        <button type="button" onClick={m.refresh}>
          Refresh
        </button>
      }
    >
      {m.error ? (
        <ErrorNote error={m.error} />
      ) : !m.members ? (
        <p class="muted">Loading…</p>
      ) : (
        <>
          <p class="summary">
            Leader <strong>{leader?.name ?? "none"}</strong>, term <strong>{leader?.term ?? "-"}</strong>, {m.members.length} member{m.members.length === 1 ? "" : "s"} ({voters} voter{voters === 1 ? "" : "s"})
            {voters > 1 && voters % 2 === 0 ? <Badge text="even number of voters" kind="warn" title="tolerates no more failures than one fewer voter" /> : null}
          </p>
          <MembersTable members={m.members} />
          {m.at ? <p class="note muted small">As of {new Date(m.at).toLocaleTimeString()}</p> : null}
        </>
      )}
    </Section>
  );
}
