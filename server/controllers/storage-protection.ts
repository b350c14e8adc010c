// The PVC and PV protection controllers: a claim marked for deletion keeps its
// kubernetes.io/pvc-protection finalizer while a pod that has not finished uses it; a volume
// marked for deletion keeps kubernetes.io/pv-protection while it is Bound. Then the finalizer
// goes and the deletion completes.
import { PV_PROTECTION, PVC_PROTECTION } from "../admission/storage-object-in-use-protection";
import { Controller, type ControllerContext } from "./runtime/controller";
import { objKey, splitKey, type Informer } from "./runtime/informer";

/** Claims a pod uses: persistentVolumeClaim volumes and generic ephemeral volumes (<pod>-<volume>). */
function claimsOf(p: any): string[] {
  return (p.spec?.volumes ?? []).flatMap((v: any) => (v.persistentVolumeClaim?.claimName ? [v.persistentVolumeClaim.claimName] : v.ephemeral ? [`${p.metadata.name}-${v.name}`] : []));
}

const finished = (p: any) => p.status?.phase === "Succeeded" || p.status?.phase === "Failed";

export class StorageProtectionController extends Controller {
  private pvcs: Informer;
  private pvs: Informer;
  private pods: Informer;

  constructor(rt: ControllerContext) {
    super(rt, "storage-protection", 2);
    this.pvcs = this.informer("persistentvolumeclaims");
    this.pvs = this.informer("persistentvolumes");
    this.pods = this.informer("pods").addIndexer("claim", (p) => (finished(p) ? [] : claimsOf(p).map((c) => `${p.metadata.namespace}/${c}`)));
    const claim = (c: any) => c.metadata.deletionTimestamp && this.queue.add(`pvc:${objKey(c)}`);
    this.pvcs.addHandler({ add: claim, update: (_, c) => claim(c) });
    const volume = (v: any) => v.metadata.deletionTimestamp && this.queue.add(`pv:${v.metadata.name}`);
    this.pvs.addHandler({ add: volume, update: (_, v) => volume(v) });
    // A pod finishing or going away may free its claims.
    const released = (p: any) => {
      for (const c of claimsOf(p)) this.queue.add(`pvc:${p.metadata.namespace}/${c}`);
    };
    this.pods.addHandler({ update: (_, p) => finished(p) && released(p), delete: released });
  }

  async reconcile(key: string): Promise<void> {
    if (key.startsWith("pv:")) {
      const name = key.slice(3);
      const pv = this.pvs.getBy("", name);
      if (!pv?.metadata.deletionTimestamp || !(pv.metadata.finalizers ?? []).includes(PV_PROTECTION) || pv.status?.phase === "Bound") return;
      await this.api.update("PersistentVolume", "", name, (cur) => drop(cur, PV_PROTECTION));
      return;
    }
    const k = key.slice(4);
    const pvc = this.pvcs.get(k);
    if (!pvc?.metadata.deletionTimestamp || !(pvc.metadata.finalizers ?? []).includes(PVC_PROTECTION)) return;
    if (this.pods.byIndex("claim", k).length) return; // the pod's end re-queues this claim
    const { ns, name } = splitKey(k);
    await this.api.update("PersistentVolumeClaim", ns, name, (cur) => drop(cur, PVC_PROTECTION));
  }
}

function drop(cur: any, f: string): any {
  const rest = (cur.metadata.finalizers ?? []).filter((x: string) => x !== f);
  if (rest.length) cur.metadata.finalizers = rest;
  else delete cur.metadata.finalizers;
  return cur;
}
