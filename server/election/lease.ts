// Leader election through a coordination.k8s.io Lease, as kube-controller-manager does it, for
// servers that share an external datastore (with the embedded store, Raft leadership decides).
// Expiry is judged by this server's own clock from when it last saw the Lease change, never by
// comparing another server's timestamps, so clock skew between servers does not matter. The
// holder gives up when it has not renewed for most of the lease, before anyone may take over.
import { findByKind } from "../../schemas/registry";
import { ApiError } from "../errors";
import { APISERVER_USER, writeCtx } from "../registry/ctx";
import type { Registry } from "../registry/registry";
import type { Store } from "../store/store";

export interface LeaseElectionOptions {
  registry: Registry;
  store: Store;
  /** Unique per server process. */
  identity: string;
  name?: string;
  namespace?: string;
  durationMs?: number;
  renewMs?: number;
  retryMs?: number;
  onChange: (leader: boolean) => void;
  log?: (msg: string) => void;
}

export interface LeaseElection {
  isLeader(): boolean;
  /** The holder seen renewing within the lease duration (by this server's clock), or undefined. */
  holder(): string | undefined;
  /** Stop; a holder releases the Lease (empties holderIdentity) so another takes over at once. */
  stop(): Promise<void>;
}

const microTime = (d = new Date()) => d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

export function startLeaseElection(o: LeaseElectionOptions): LeaseElection {
  const r = findByKind("coordination.k8s.io/v1", "Lease")!;
  const res = `${r.group}/${r.plural}`;
  const ns = o.namespace ?? "kube-system";
  const name = o.name ?? "skiff-controllers";
  const durationMs = o.durationMs ?? 3000;
  const renewMs = o.renewMs ?? 1000;
  const retryMs = o.retryMs ?? 250;
  const ctx = () => writeCtx(APISERVER_USER, "skiff-leader-election");
  let leader = false;
  let stopped = false;
  let lastRenew = 0;
  let observed = "";
  let observedAt = 0;
  let observedHolder = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();

  const setLeader = (v: boolean) => {
    if (v === leader) return;
    leader = v;
    o.log?.(v ? `became the leader (Lease ${ns}/${name})` : `no longer the leader (Lease ${ns}/${name})`);
    o.onChange(v);
  };

  const record = (cur: any, now: number) => ({
    holderIdentity: o.identity,
    leaseDurationSeconds: Math.ceil(durationMs / 1000),
    acquireTime: cur?.spec?.holderIdentity === o.identity ? cur.spec.acquireTime : microTime(new Date(now)),
    renewTime: microTime(new Date(now)),
    leaseTransitions: (cur?.spec?.leaseTransitions ?? 0) + (cur?.spec?.holderIdentity === o.identity || !cur ? 0 : 1),
  });

  const tryAcquireOrRenew = async (): Promise<boolean> => {
    const now = Date.now();
    const cur = o.store.get(res, ns, name);
    if (!cur) {
      const spec = record(undefined, now);
      await o.registry.create(ctx(), r, ns, { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace: ns }, spec });
      return true;
    }
    const spec = cur.obj.spec ?? {};
    const seen = `${spec.holderIdentity ?? ""}|${spec.renewTime ?? ""}|${cur.rev}`;
    if (seen !== observed) {
      observed = seen;
      observedAt = now;
      observedHolder = spec.holderIdentity ?? "";
    }
    const mine = spec.holderIdentity === o.identity;
    if (!mine && spec.holderIdentity && now - observedAt < durationMs) return false;
    await o.registry.update(
      ctx(),
      r,
      ns,
      name,
      (c) => {
        c.spec = { ...c.spec, ...record(c, now) };
        return c;
      },
      // Only over the version judged here: a concurrent taker makes this a Conflict.
      { userRev: String(cur.rev) },
    );
    return true;
  };

  const tick = async () => {
    if (stopped) return;
    try {
      if (await tryAcquireOrRenew()) {
        lastRenew = Date.now();
        setLeader(true);
      } else setLeader(false);
    } catch (e) {
      // Conflict: someone else won; unavailable datastore: keep leading only while the lease surely holds.
      if (leader && Date.now() - lastRenew > durationMs - renewMs) setLeader(false);
      if (!(e instanceof ApiError)) o.log?.(`leader election: ${(e as Error).message}`);
    }
    if (!stopped) timer = setTimeout(() => (running = tick()), leader ? renewMs : retryMs);
  };
  running = tick();

  return {
    isLeader: () => leader,
    holder: () => (leader ? o.identity : observedHolder && Date.now() - observedAt < durationMs ? observedHolder : undefined),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      if (!leader) return;
      setLeader(false);
      await o.registry
        .update(
          ctx(),
          r,
          ns,
          name,
          (c) => {
            if (c.spec?.holderIdentity === o.identity) c.spec = { ...c.spec, holderIdentity: "", renewTime: microTime() };
            return c;
          },
        )
        .catch(() => {});
    },
  };
}
