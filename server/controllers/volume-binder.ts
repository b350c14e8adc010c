// Persistent volumes: claims bind to matching available volumes; claims of the built-in
// `local-path` class (the default, WaitForFirstConsumer) get a hostPath volume provisioned on
// the node the scheduler picked (annotation volume.kubernetes.io/selected-node), pinned there
// by node affinity (the agent creates the directory when it mounts it). Released volumes are
// deleted or kept per reclaimPolicy.
import { join } from "node:path";
import { quantityValue } from "../../schemas/derive/quantity";
import { isAlreadyExists } from "./runtime/api";
import { Controller, type ControllerContext } from "./runtime/controller";
import { objKey, splitKey, type Informer } from "./runtime/informer";
import { parseSelector, selectorMatches } from "../scheduler/predicates";

const LOCAL_PATH_CLASS = "local-path";
const LOCAL_PATH_PROVISIONER = "skiff.io/local-path";
const DEFAULT_SC = "storageclass.kubernetes.io/is-default-class";
const SELECTED_NODE = "volume.kubernetes.io/selected-node";

const q = (v: unknown) => {
  try {
    return quantityValue(v as string);
  } catch {
    return 0;
  }
};

export class VolumeBinderController extends Controller {
  private pvcs: Informer;
  private pvs: Informer;
  private classes: Informer;
  private nodes: Informer;

  constructor(rt: ControllerContext) {
    super(rt, "volumebinder", 2);
    this.pvcs = this.informer("persistentvolumeclaims");
    this.pvs = this.informer("persistentvolumes");
    this.classes = this.informer("storage.k8s.io/storageclasses");
    this.nodes = this.informer("nodes");
    this.pvcs.addHandler({
      add: (c) => this.queue.add(`pvc:${objKey(c)}`),
      update: (_, c) => this.queue.add(`pvc:${objKey(c)}`),
      delete: (c) => c.spec?.volumeName && this.queue.add(`pv:${c.spec.volumeName}`),
    });
    this.pvs.addHandler({
      add: (v) => this.onPV(v),
      update: (_, v) => this.onPV(v),
    });
  }

  private onPV(v: any): void {
    this.queue.add(`pv:${v.metadata.name}`);
    // A new available volume may satisfy a waiting claim.
    if (!v.spec?.claimRef) for (const c of this.pvcs.list()) if (!c.spec?.volumeName) this.queue.add(`pvc:${objKey(c)}`);
  }

  protected override onSynced(): void {
    void this.ensureDefaultClass().catch((e) => console.error(`volume binder: default storage class: ${(e as Error).message}`));
  }

  private async ensureDefaultClass(): Promise<void> {
    if (this.classes.getBy("", LOCAL_PATH_CLASS)) return;
    const hasDefault = this.classes.list().some((c) => c.metadata.annotations?.[DEFAULT_SC] === "true");
    try {
      await this.api.create("StorageClass", undefined, {
        metadata: { name: LOCAL_PATH_CLASS, annotations: hasDefault ? {} : { [DEFAULT_SC]: "true" } },
        provisioner: LOCAL_PATH_PROVISIONER,
        reclaimPolicy: "Delete",
        volumeBindingMode: "WaitForFirstConsumer",
      });
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }

  private className(pvc: any): string | undefined {
    if (pvc.spec?.storageClassName !== undefined && pvc.spec?.storageClassName !== null) return pvc.spec.storageClassName;
    return this.classes.list().find((c) => c.metadata.annotations?.[DEFAULT_SC] === "true")?.metadata.name;
  }

  async reconcile(key: string): Promise<void> {
    if (key.startsWith("pv:")) return this.syncVolume(key.slice(3));
    const k = key.slice(4);
    const pvc = this.pvcs.get(k);
    if (!pvc || pvc.metadata.deletionTimestamp) return;
    const { ns, name } = splitKey(k);
    if (pvc.spec?.volumeName) {
      const pv = this.pvs.getBy("", pvc.spec.volumeName);
      if (!pv) {
        if (pvc.status?.phase === "Bound") {
          await this.api.updateStatus("PersistentVolumeClaim", ns, name, (cur) => ({ ...cur, status: { ...(cur.status ?? {}), phase: "Lost" } }));
          this.record(pvc, "Warning", "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!");
        }
        return;
      }
      if (!pv.spec?.claimRef || pv.spec.claimRef.uid === pvc.metadata.uid) return this.bind(pvc, pv);
      return;
    }
    const cls = this.className(pvc);
    const match = this.findVolume(pvc, cls);
    if (match) return this.bind(pvc, match);
    const sc = cls ? this.classes.getBy("", cls) : undefined;
    if (!sc || (sc.provisioner !== LOCAL_PATH_PROVISIONER && sc.provisioner !== "rancher.io/local-path")) {
      if (pvc.status?.phase !== "Pending") await this.api.updateStatus("PersistentVolumeClaim", ns, name, (cur) => ({ ...cur, status: { ...(cur.status ?? {}), phase: "Pending" } }));
      return;
    }
    const node = pvc.metadata.annotations?.[SELECTED_NODE];
    if (!node) {
      if (sc.volumeBindingMode === "WaitForFirstConsumer") this.record(pvc, "Normal", "WaitForFirstConsumer", "waiting for first consumer to be created before binding");
      return;
    }
    const pvName = `pvc-${pvc.metadata.uid}`;
    const hostname = this.nodes.getBy("", node)?.metadata.labels?.["kubernetes.io/hostname"] ?? node;
    let pv = this.pvs.getBy("", pvName);
    if (!pv) {
      const request = pvc.spec?.resources?.requests?.storage ?? "1Gi";
      try {
        pv = await this.api.create("PersistentVolume", undefined, {
          metadata: { name: pvName, annotations: { "pv.kubernetes.io/provisioned-by": LOCAL_PATH_PROVISIONER, "local.path.provisioner/selected-node": node } },
          spec: {
            capacity: { storage: request },
            accessModes: pvc.spec?.accessModes?.length ? pvc.spec.accessModes : ["ReadWriteOnce"],
            persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? "Delete",
            storageClassName: cls,
            volumeMode: pvc.spec?.volumeMode ?? "Filesystem",
            hostPath: { path: join(this.rt.opts.localPathRoot, `${pvName}_${ns}_${name}`), type: "DirectoryOrCreate" },
            nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [hostname] }] }] } },
            claimRef: { kind: "PersistentVolumeClaim", namespace: ns, name, uid: pvc.metadata.uid, apiVersion: "v1" },
          },
        });
        this.record(pvc, "Normal", "ProvisioningSucceeded", `Successfully provisioned volume ${pvName}`);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        pv = this.pvs.getBy("", pvName);
      }
    }
    if (pv) await this.bind(pvc, pv);
  }

  private findVolume(pvc: any, cls: string | undefined): any | undefined {
    const want = q(pvc.spec?.resources?.requests?.storage ?? 0);
    const modes: string[] = pvc.spec?.accessModes ?? [];
    const sel = pvc.spec?.selector ? parseSelector(pvc.spec.selector) : undefined;
    let best: any;
    for (const pv of this.pvs.list()) {
      if (pv.metadata.deletionTimestamp) continue;
      const ref = pv.spec?.claimRef;
      if (ref && !(ref.namespace === pvc.metadata.namespace && ref.name === pvc.metadata.name && (!ref.uid || ref.uid === pvc.metadata.uid))) continue;
      if (!ref && pv.status?.phase && pv.status.phase !== "Available") continue;
      if ((pv.spec?.storageClassName ?? "") !== (cls ?? "")) continue;
      if (q(pv.spec?.capacity?.storage ?? 0) < want) continue;
      if (!modes.every((m) => (pv.spec?.accessModes ?? []).includes(m))) continue;
      if ((pv.spec?.volumeMode ?? "Filesystem") !== (pvc.spec?.volumeMode ?? "Filesystem")) continue;
      if (sel && !selectorMatches(sel, pv.metadata.labels)) continue;
      if (ref) return pv; // pre-bound to this claim
      if (!best || q(pv.spec.capacity.storage) < q(best.spec.capacity.storage)) best = pv;
    }
    return best;
  }

  private async bind(pvc: any, pv: any): Promise<void> {
    const ns = pvc.metadata.namespace, name = pvc.metadata.name;
    if (!pv.spec?.claimRef || pv.spec.claimRef.uid !== pvc.metadata.uid || pv.status?.phase !== "Bound") {
      await this.api.update("PersistentVolume", "", pv.metadata.name, (cur) => {
        if (cur.spec.claimRef?.uid && cur.spec.claimRef.uid !== pvc.metadata.uid) throw Object.assign(new Error("volume already bound"), { code: 409 });
        cur.spec.claimRef = { kind: "PersistentVolumeClaim", namespace: ns, name, uid: pvc.metadata.uid, apiVersion: "v1", resourceVersion: pvc.metadata.resourceVersion };
        cur.metadata.annotations = { ...(cur.metadata.annotations ?? {}), "pv.kubernetes.io/bound-by-controller": "yes" };
        return cur;
      });
      await this.api.updateStatus("PersistentVolume", "", pv.metadata.name, (cur) => ({ ...cur, status: { ...(cur.status ?? {}), phase: "Bound" } }));
    }
    if (pvc.spec?.volumeName !== pv.metadata.name)
      await this.api.update("PersistentVolumeClaim", ns, name, (cur) => {
        cur.spec.volumeName = pv.metadata.name;
        cur.metadata.annotations = { ...(cur.metadata.annotations ?? {}), "pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes" };
        return cur;
      });
    if (pvc.status?.phase !== "Bound")
      await this.api.updateStatus("PersistentVolumeClaim", ns, name, (cur) => ({
        ...cur,
        status: { ...(cur.status ?? {}), phase: "Bound", accessModes: pv.spec?.accessModes, capacity: pv.spec?.capacity },
      }));
  }

  private async syncVolume(name: string): Promise<void> {
    const pv = this.pvs.getBy("", name);
    if (!pv) return;
    const ref = pv.spec?.claimRef;
    // A volume being deleted is still released when its claim goes: pv-protection waits for that.
    if (pv.metadata.deletionTimestamp && !ref) return;
    if (!ref) {
      if (pv.status?.phase !== "Available") await this.api.updateStatus("PersistentVolume", "", name, (cur) => ({ ...cur, status: { ...(cur.status ?? {}), phase: "Available" } }));
      return;
    }
    const pvc = this.pvcs.getBy(ref.namespace, ref.name);
    if (pvc && (!ref.uid || pvc.metadata.uid === ref.uid)) return;
    if (!ref.uid) return; // pre-bound to a claim that does not exist yet
    // The claim is gone: release, then reclaim.
    if ((pv.spec?.persistentVolumeReclaimPolicy ?? "Retain") === "Delete") {
      await this.api.delete("PersistentVolume", "", name);
      return;
    }
    if (pv.status?.phase !== "Released") await this.api.updateStatus("PersistentVolume", "", name, (cur) => ({ ...cur, status: { ...(cur.status ?? {}), phase: "Released" } }));
  }
}
