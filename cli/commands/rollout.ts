// skiff rollout status|history|undo|restart|pause|resume TYPE/NAME, with kubectl's messages:
// status watches the object and prints progress until the rollout is done; history and undo
// read the Deployment's ReplicaSets (revision annotations); restart stamps the pod template
// with kubectl.kubernetes.io/restartedAt; pause and resume flip spec.paused.
import { ApiError, resourcePath } from "../../lib/client";
import type { RegisteredResource } from "../../schemas/registry";
import { labelSelectorString } from "../../schemas/helpers/selectors";
import { forEachTarget, makeCtx, out, parseFlags, reportError, resolveResource, UsageError, type Ctx, type FlagSpec } from "./common";
import { parseGoDuration } from "./logs";
import { kindDotGroup, sortKeys, tabwrite } from "./printers";

const spec: FlagSpec = {
  "to-revision": { type: "int", default: 0 },
  revision: { type: "int", default: 0 },
  watch: { type: "bool", short: "w", default: true },
  timeout: { type: "string", default: "0s" },
};

const SUBCOMMANDS = ["status", "history", "undo", "restart", "pause", "resume"];
const REVISION = "deployment.kubernetes.io/revision";
const CHANGE_CAUSE = "kubernetes.io/change-cause";
const HASH_LABEL = "pod-template-hash";
/** Annotations a rollback keeps from the Deployment instead of taking them from the ReplicaSet. */
const SKIP_ANNOTATIONS = new Set([
  "kubectl.kubernetes.io/last-applied-configuration",
  REVISION,
  "deployment.kubernetes.io/revision-history",
  "deployment.kubernetes.io/desired-replicas",
  "deployment.kubernetes.io/max-replicas",
  "deprecated.deployment.rollback.to",
]);

const USAGE = `Manage the rollout of a Deployment (status also for DaemonSets and StatefulSets).

Usage:
  skiff rollout status deployment/NAME [--watch=false] [--timeout=5m]
  skiff rollout history deployment/NAME [--revision=N]
  skiff rollout undo deployment/NAME [--to-revision=N]
  skiff rollout restart deployment/NAME
  skiff rollout pause deployment/NAME
  skiff rollout resume deployment/NAME
`;

export interface RolloutState {
  message: string;
  done: boolean;
}

/** kubectl's status viewers (deployment, daemon set, stateful set); throws on a failed rollout. */
export function rolloutStatus(plural: string, o: any): RolloutState {
  const name = o.metadata?.name;
  const gen = o.metadata?.generation ?? 0;
  const st = o.status ?? {};
  if (plural === "deployments") {
    if (gen > (st.observedGeneration ?? 0)) return { message: "Waiting for deployment spec update to be observed...", done: false };
    const prog = (st.conditions ?? []).find((c: any) => c.type === "Progressing");
    if (prog?.reason === "ProgressDeadlineExceeded") throw new Error(`deployment "${name}" exceeded its progress deadline`);
    const want = o.spec?.replicas ?? 1;
    const updated = st.updatedReplicas ?? 0;
    if (updated < want) return { message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${want} new replicas have been updated...`, done: false };
    if ((st.replicas ?? 0) > updated) return { message: `Waiting for deployment "${name}" rollout to finish: ${(st.replicas ?? 0) - updated} old replicas are pending termination...`, done: false };
    if ((st.availableReplicas ?? 0) < updated) return { message: `Waiting for deployment "${name}" rollout to finish: ${st.availableReplicas ?? 0} of ${updated} updated replicas are available...`, done: false };
    return { message: `deployment "${name}" successfully rolled out`, done: true };
  }
  if (plural === "daemonsets") {
    if ((o.spec?.updateStrategy?.type ?? "RollingUpdate") !== "RollingUpdate") throw new Error("rollout status is only available for RollingUpdate strategy type");
    if (gen > (st.observedGeneration ?? 0)) return { message: "Waiting for daemon set spec update to be observed...", done: false };
    const desired = st.desiredNumberScheduled ?? 0;
    if ((st.updatedNumberScheduled ?? 0) < desired)
      return { message: `Waiting for daemon set "${name}" rollout to finish: ${st.updatedNumberScheduled ?? 0} out of ${desired} new pods have been updated...`, done: false };
    if ((st.numberAvailable ?? 0) < desired) return { message: `Waiting for daemon set "${name}" rollout to finish: ${st.numberAvailable ?? 0} of ${desired} updated pods are available...`, done: false };
    return { message: `daemon set "${name}" successfully rolled out`, done: true };
  }
  if (plural === "statefulsets") {
    const strategy = o.spec?.updateStrategy ?? { type: "RollingUpdate" };
    if ((strategy.type ?? "RollingUpdate") !== "RollingUpdate") throw new Error("rollout status is only available for RollingUpdate strategy type");
    if (!st.observedGeneration || gen > st.observedGeneration) return { message: "Waiting for statefulset spec update to be observed...", done: false };
    const want = o.spec?.replicas ?? 1;
    if ((st.readyReplicas ?? 0) < want) return { message: `Waiting for ${want - (st.readyReplicas ?? 0)} pods to be ready...`, done: false };
    const partition = strategy.rollingUpdate?.partition;
    if (strategy.rollingUpdate && partition !== undefined) {
      if ((st.updatedReplicas ?? 0) < want - partition)
        return { message: `Waiting for partitioned roll out to finish: ${st.updatedReplicas ?? 0} out of ${want - partition} new pods have been updated...`, done: false };
      return { message: `partitioned roll out complete: ${st.updatedReplicas ?? 0} new pods have been updated...`, done: true };
    }
    if (st.updateRevision !== st.currentRevision)
      return { message: `waiting for statefulset rolling update to complete ${st.updatedReplicas ?? 0} pods at revision ${st.updateRevision}...`, done: false };
    return { message: `statefulset rolling update complete ${st.currentReplicas ?? 0} pods at revision ${st.currentRevision}...`, done: true };
  }
  throw new UsageError(`no status viewer has been implemented for ${plural}`);
}

export async function run(args: string[]): Promise<number> {
  try {
    const p = parseFlags(args, spec, "skiff rollout");
    const [sub, ...rest] = p.positional;
    if (!sub) {
      out(USAGE);
      return 0;
    }
    if (!SUBCOMMANDS.includes(sub)) throw new UsageError(`unknown command "${sub}" for "skiff rollout": use one of ${SUBCOMMANDS.join(", ")}`);
    const targets = parseTargets(rest);
    const ctx = makeCtx(p);
    const failed = await forEachTarget(targets, async ([r, name]) => {
        const id = `${kindDotGroup(r.kind, r.group)}/${name}`;
        const path = resourcePath(r, ctx.namespace, name);
        switch (sub) {
          case "status":
            await status(ctx, r, name, p.flags.watch, parseGoDuration(p.flags.timeout || "0s"));
            break;
          case "history":
            out(await history(ctx, r, name, p.flags.revision, id));
            break;
          case "undo":
            out(`${id} ${await undo(ctx, r, name, p.flags["to-revision"])}\n`);
            break;
          case "restart": {
            if (!["deployments", "daemonsets", "statefulsets"].includes(r.plural)) throw new Error(`${r.plural} "${name}" restarting is not supported`);
            const o = await ctx.client.get(path);
            if (o.spec?.paused) throw new Error(`${r.plural}.${r.group} "${name}" can't restart paused deployment (run rollout resume first)`);
            const patch = { spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": rfc3339Local(new Date()) } } } } };
            await ctx.client.patch(path, patch, "application/strategic-merge-patch+json", { fieldManager: "kubectl-rollout" });
            out(`${id} restarted\n`);
            break;
          }
          case "pause":
          case "resume": {
            const pausing = sub === "pause";
            if (r.plural !== "deployments") throw new Error(`${r.plural}.${r.group} "${name}" ${pausing ? "pausing" : "resuming"} is not supported`);
            const o = await ctx.client.get(path);
            if (!!o.spec?.paused === pausing) throw new Error(`${r.plural}.${r.group} "${name}" is ${pausing ? "already paused" : "not paused"}`);
            await ctx.client.patch(path, { spec: { paused: pausing } }, "application/strategic-merge-patch+json", { fieldManager: "kubectl-rollout" });
            out(`${id} ${pausing ? "paused" : "resumed"}\n`);
            break;
          }
        }
    });
    return failed ? 1 : 0;
  } catch (e) {
    return reportError(e);
  }
}

function parseTargets(args: string[]): [RegisteredResource, string][] {
  if (!args.length) throw new UsageError("required resource not specified: use TYPE/NAME, e.g. deployment/web");
  if (args.every((a) => a.includes("/"))) return args.map((a) => [resolveResource(a.slice(0, a.indexOf("/"))), a.slice(a.indexOf("/") + 1)]);
  if (args.some((a) => a.includes("/"))) throw new UsageError("use either TYPE NAME... or TYPE/NAME..., not both");
  const [type, ...names] = args;
  if (!names.length) throw new UsageError("resource(s) were provided, but no name was specified");
  const r = resolveResource(type!);
  return names.map((n) => [r, n]);
}

/** time.Now().Format(time.RFC3339): local time with its offset, like kubectl's restartedAt. */
function rfc3339Local(d: Date): string {
  const off = -d.getTimezoneOffset();
  const p2 = (n: number) => String(Math.trunc(Math.abs(n))).padStart(2, "0");
  const zone = off === 0 ? "Z" : `${off > 0 ? "+" : "-"}${p2(off / 60)}:${p2(off % 60)}`;
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}${zone}`;
}

async function status(ctx: Ctx, r: RegisteredResource, name: string, watch: boolean, timeoutMs: number): Promise<void> {
  if (!["deployments", "daemonsets", "statefulsets"].includes(r.plural)) throw new UsageError(`no status viewer has been implemented for ${r.plural}`);
  const path = resourcePath(r, ctx.namespace);
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
  let last = "";
  const show = (o: any): boolean => {
    const s = rolloutStatus(r.plural, o);
    // kubectl prints on every event; repeating an unchanged line tells nothing.
    if (s.message !== last) out(s.message + "\n");
    last = s.message;
    return s.done;
  };
  const fieldSelector = `metadata.name=${name}`;
  const list = await ctx.client.list(path, { fieldSelector });
  const cur = list.items?.[0];
  if (!cur) throw new ApiError({ kind: "Status", reason: "NotFound", message: `${r.group ? `${r.plural}.${r.group}` : r.plural} "${name}" not found`, code: 404 }, 404);
  if (show(cur) || !watch) return;
  let rv: string = list.metadata?.resourceVersion ?? "";
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error("timed out waiting for the condition");
    const ac = new AbortController();
    const timer = Number.isFinite(left) ? setTimeout(() => ac.abort(), left) : undefined;
    let done = false;
    let gone = false;
    try {
      await ctx.client.watch(
        path,
        { fieldSelector, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: 300 },
        (ev) => {
          if (ev.type === "ERROR") {
            rv = "";
            return false;
          }
          if (ev.object?.metadata?.resourceVersion) rv = ev.object.metadata.resourceVersion;
          if (ev.type === "BOOKMARK") return;
          if (ev.type === "DELETED") {
            gone = true;
            return false;
          }
          done = show(ev.object);
          return done ? false : undefined;
        },
        ac.signal,
      );
    } finally {
      clearTimeout(timer);
    }
    if (done) return;
    if (gone) throw new Error(`object has been deleted`);
    if (!rv) {
      // The watch expired: list again, like an informer.
      const l = await ctx.client.list(path, { fieldSelector });
      if (l.items?.[0] && show(l.items[0])) return;
      rv = l.metadata?.resourceVersion ?? "";
    }
  }
}

/** The Deployment's ReplicaSets by revision. */
async function revisions(ctx: Ctx, d: any): Promise<Map<number, any>> {
  const rsPath = `/apis/apps/v1/namespaces/${encodeURIComponent(d.metadata.namespace)}/replicasets`;
  const list = await ctx.client.list(rsPath, { labelSelector: labelSelectorString(d.spec?.selector) });
  const out = new Map<number, any>();
  for (const rs of list.items ?? []) {
    const owned = (rs.metadata?.ownerReferences ?? []).some((o: any) => o.controller && o.uid === d.metadata.uid);
    const rev = Number(rs.metadata?.annotations?.[REVISION]);
    if (owned && Number.isInteger(rev) && rev > 0) out.set(rev, rs);
  }
  return out;
}

async function history(ctx: Ctx, r: RegisteredResource, name: string, revision: number, id: string): Promise<string> {
  if (r.plural !== "deployments") throw new UsageError(`rollout history is only implemented for deployments here, not ${r.plural}`);
  const d = await ctx.client.get(resourcePath(r, ctx.namespace, name));
  const revs = await revisions(ctx, d);
  if (revision > 0) {
    const rs = revs.get(revision);
    if (!rs) throw new Error(`unable to find the specified revision`);
    return `${id} with revision #${revision}\n${podTemplate(rs.spec?.template)}\n`;
  }
  if (!revs.size) return `${id} \nNo rollout history found.\n`;
  const rows = ["REVISION\tCHANGE-CAUSE", ...[...revs.keys()].sort((a, b) => a - b).map((n) => `${n}\t${revs.get(n)!.metadata?.annotations?.[CHANGE_CAUSE] || "<none>"}`)];
  return `${id} \n${tabwrite(rows.join("\n"), 0, 2)}\n\n`;
}

/** A short `Pod Template:` description, as `rollout history --revision` prints it. */
function podTemplate(t: any): string {
  const lines = ["Pod Template:"];
  const kv = (m: Record<string, string> | undefined, sep: string) => Object.entries(m ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}${sep}${v}`);
  const labels = kv(t?.metadata?.labels, "=");
  lines.push(`  Labels:\t${labels[0] ?? "<none>"}`, ...labels.slice(1).map((l) => `\t${l}`));
  const ann = kv(t?.metadata?.annotations, ": ");
  if (ann.length) lines.push(`  Annotations:\t${ann[0]}`, ...ann.slice(1).map((l) => `\t${l}`));
  lines.push("  Containers:");
  for (const c of t?.spec?.containers ?? []) {
    lines.push(`   ${c.name}:`, `    Image:\t${c.image ?? ""}`);
    const ports = (c.ports ?? []).map((p: any) => `${p.containerPort}/${p.protocol ?? "TCP"}`);
    lines.push(`    Port:\t${ports.join(", ") || "<none>"}`);
    if (c.command?.length) lines.push("    Command:", ...c.command.map((x: string) => `      ${x}`));
    if (c.args?.length) lines.push("    Args:", ...c.args.map((x: string) => `      ${x}`));
    const env = (c.env ?? []).map((e: any) => `      ${e.name}:\t${e.value ?? "<set from a source>"}`);
    lines.push(`    Environment:\t${env.length ? "" : "<none>"}`.trimEnd(), ...env);
  }
  return tabwrite(lines.join("\n"), 0, 1) + "\n";
}

function withoutHash(t: any): string {
  const c = structuredClone(t ?? {});
  if (c.metadata?.labels) delete c.metadata.labels[HASH_LABEL];
  return JSON.stringify(sortKeys(c));
}

async function undo(ctx: Ctx, r: RegisteredResource, name: string, toRevision: number): Promise<string> {
  if (r.plural !== "deployments") throw new UsageError(`rollout undo is only implemented for deployments here, not ${r.plural}`);
  if (toRevision < 0) throw new UsageError(`--to-revision must be a positive number`);
  const path = resourcePath(r, ctx.namespace, name);
  const d = await ctx.client.get(path);
  if (d.spec?.paused) throw new Error(`you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume deployment/${name}' and try again`);
  const revs = await revisions(ctx, d);
  let target = toRevision;
  if (target === 0) {
    // The newest revision before the current one.
    const sorted = [...revs.keys()].sort((a, b) => b - a);
    if (sorted.length < 2) throw new Error(`no rollout history found for deployment "${name}"`);
    target = sorted[1]!;
  }
  const rs = revs.get(target);
  if (!rs) throw new Error(`unable to find specified revision ${target} in history`);
  if (withoutHash(rs.spec?.template) === withoutHash(d.spec?.template)) return `skipped rollback (current template already matches revision ${target})`;
  const template = structuredClone(rs.spec.template);
  if (template.metadata?.labels) delete template.metadata.labels[HASH_LABEL];
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries<string>(d.metadata?.annotations ?? {})) if (SKIP_ANNOTATIONS.has(k)) annotations[k] = v;
  for (const [k, v] of Object.entries<string>(rs.metadata?.annotations ?? {})) if (!SKIP_ANNOTATIONS.has(k)) annotations[k] = v;
  const patch = [
    { op: "replace", path: "/spec/template", value: template },
    { op: "replace", path: "/metadata/annotations", value: annotations },
  ];
  try {
    await ctx.client.patch(path, patch, "application/json-patch+json", { fieldManager: "kubectl-rollout" });
  } catch (e) {
    if (e instanceof ApiError) throw new Error(`failed restoring revision ${target}: ${e.message}`);
    throw e;
  }
  return "rolled back";
}
