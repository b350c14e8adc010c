// ControllerRevisions for StatefulSets and DaemonSets, in the shape `kubectl rollout
// history|undo` reads: data is a strategic-merge patch replacing spec.template, named
// `<owner>-<hash>`, numbered by `revision`.
import { controllerOf, controllerRef, isAlreadyExists, type Api, type Kind } from "./api";
import type { Informer } from "./informer";
import { safeHash, stableJson } from "./pods";

export const REVISION_HASH = "controller-revision-hash";

function revisionData(template: any): any {
  const t = structuredClone(template ?? {});
  return { spec: { template: { ...t, $patch: "replace" } } };
}

export interface Revisions {
  /** The revision for the current template (created or renumbered as needed). */
  update: any;
  all: any[];
}

export async function syncRevisions(api: Api, crs: Informer, owner: any, kind: Kind): Promise<Revisions> {
  const ns = owner.metadata.namespace;
  const mine = crs.byIndex("owner", owner.metadata.uid).filter((r) => controllerOf(r)?.uid === owner.metadata.uid);
  const data = revisionData(owner.spec?.template);
  const key = stableJson(data);
  const max = Math.max(0, ...mine.map((r) => Number(r.revision) || 0));
  const existing = mine.filter((r) => stableJson(r.data) === key).sort((a, b) => (b.revision ?? 0) - (a.revision ?? 0))[0];
  let update = existing;
  if (existing) {
    if ((existing.revision ?? 0) < max) update = (await api.update("ControllerRevision", ns, existing.metadata.name, (cur) => ({ ...cur, revision: max + 1 }))) ?? existing;
  } else {
    let collision = owner.status?.collisionCount ?? 0;
    for (let attempt = 0; attempt < 5 && !update; attempt++) {
      const hash = safeHash(key + (collision ? `#${collision}` : ""));
      const cr = {
        metadata: {
          name: `${owner.metadata.name}-${hash}`,
          namespace: ns,
          labels: { ...(owner.spec?.selector?.matchLabels ?? {}), "controller.kubernetes.io/hash": hash },
          ownerReferences: [controllerRef(owner, kind)],
        },
        data,
        revision: max + 1,
      };
      try {
        update = await api.create("ControllerRevision", ns, cr);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        collision++;
      }
    }
  }
  const all = [...mine.filter((r) => r.metadata.uid !== update.metadata.uid), update];
  return { update, all };
}

/** Delete the oldest revisions beyond limit that no pod uses. */
export async function pruneRevisions(api: Api, revs: any[], limit: number, live: Set<string>): Promise<void> {
  const candidates = revs.filter((r) => !live.has(r.metadata.name)).sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0));
  const extra = candidates.length - limit;
  for (const r of candidates.slice(0, Math.max(0, extra))) await api.delete("ControllerRevision", r.metadata.namespace, r.metadata.name);
}
