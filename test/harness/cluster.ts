// An in-process cluster for controller and scheduler tests: a Store in a temp dir, the
// controllers and scheduler, fake nodes, and a fake kubelet that makes bound pods Running and
// Ready (or Succeeded/Failed for run-to-completion pods, after the `sleep N` in their command,
// like the hollow agent).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { until } from "./wait";
import { checkObject } from "../../schemas/derive/check";
import { bootstrap } from "../../server/bootstrap";
import { APISERVER_USER } from "../../server/registry/ctx";
import { defaultPlugins } from "../../server/admission/index";
import { newRegistry } from "../../server/registry/index";
import { Store } from "../../server/store/store";
import { startControllers, type RunningControllers, type StartOptions } from "../../server/controllers/index";
import { Api, resource, type Kind } from "../../server/controllers/runtime/api";
import { timestamp } from "../../server/registry/meta";
import { ExternalMirror } from "../../server/store/external/mirror";
import { openBackend } from "../../server/store/external/open";
import { endpointForTest, testDatastoreKind } from "./datastore";

export interface TestCluster {
  store: Store;
  api: Api;
  running: RunningControllers;
  /** Stop every controller and start a fresh set on the same store (a server restart). */
  restartControllers(): Promise<void>;
  /** Create an object (type-checked like an API request). */
  create(kind: Kind, obj: any): Promise<any>;
  get(kind: Kind, ns: string, name: string): any | undefined;
  list(kind: Kind, ns?: string): any[];
  addNode(name: string, o?: { cpu?: string; memory?: string; pods?: number; labels?: Record<string, string>; taints?: any[] }): Promise<any>;
  /** test/harness/wait.ts until(), polling every 10 ms for 5 s unless told. */
  until<T>(what: string, f: () => T | undefined | false, ms?: number): Promise<T>;
  kubelet: { enabled: boolean; exitCodes: Map<string, number> };
  close(): Promise<void>;
}

const resKey = (kind: Kind) => {
  const r = resource(kind);
  return r.group ? `${r.group}/${r.plural}` : r.plural;
};

export async function startTestCluster(opts: StartOptions = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), "skiff-ctl-test-"));
  // SKIFF_TEST_DATASTORE=etcd|postgres: the same controllers over an external datastore.
  const kind = testDatastoreKind();
  let closeStore: () => Promise<void>;
  let store: Store;
  if (kind === "embedded") {
    store = new Store({ dataDir: dir, synchronous: "OFF" });
    closeStore = async () => store.close();
  } else {
    const ds = await endpointForTest(kind);
    const mirror = await ExternalMirror.open(await openBackend({ endpoint: ds.endpoint }), { dir: join(dir, "mirror") });
    store = mirror.store;
    closeStore = async () => {
      await mirror.close();
      await ds.stop();
    };
  }
  const registry = newRegistry(store, defaultPlugins({ defaultTolerationSeconds: opts.defaultTolerationSeconds }));
  await bootstrap(registry);
  const start = () => startControllers(registry, { jobBackoffBaseMs: 50, ...opts });
  const api = new Api(registry, APISERVER_USER, "test");
  const kubelet = { enabled: true, exitCodes: new Map<string, number>() };
  const starting = new Set<string>();
  const unsub = store.onApplied((events) => {
    if (!kubelet.enabled) return;
    for (const e of events) {
      if (e.res !== "pods" || e.type === "DELETED") continue;
      const p = e.obj;
      if (!p.spec?.nodeName) continue;
      const key = `${p.metadata.uid}`;
      if (p.metadata.deletionTimestamp) {
        if (starting.has(`del:${key}`)) continue;
        starting.add(`del:${key}`);
        void api.delete("Pod", p.metadata.namespace, p.metadata.name, { gracePeriodSeconds: 0 }).catch(() => {});
        continue;
      }
      if (p.status?.phase !== "Pending" || starting.has(key)) continue;
      starting.add(key);
      setTimeout(() => void run(p), 1);
    }
  });
  const run = async (p: any) => {
    const ts = timestamp();
    const conds = ["Initialized", "Ready", "ContainersReady", "PodScheduled"].map((type) => ({ type, status: "True", lastProbeTime: null, lastTransitionTime: ts }));
    const up = await api.updateStatus("Pod", p.metadata.namespace, p.metadata.name, (cur) => {
      cur.status = { ...cur.status, phase: "Running", conditions: conds, podIP: "10.42.0.9", startTime: ts };
      return cur;
    }).catch(() => undefined);
    if (!up || (p.spec?.restartPolicy ?? "Always") === "Always") return;
    const code = kubelet.exitCodes.get(p.metadata.labels?.["job-name"] ?? "") ?? 0;
    // Like the hollow agent: a command with `sleep N` runs N seconds, others finish at once.
    const sleep = /sleep\s+(\d+)/.exec([...(p.spec.containers?.[0]?.command ?? []), ...(p.spec.containers?.[0]?.args ?? [])].join(" "));
    const t = setTimeout(() => {
      void api.updateStatus("Pod", p.metadata.namespace, p.metadata.name, (cur) => {
        cur.status = {
          ...cur.status,
          phase: code === 0 ? "Succeeded" : "Failed",
          conditions: conds.map((c) => (c.type === "Ready" || c.type === "ContainersReady" ? { ...c, status: "False" } : c)),
          containerStatuses: (cur.spec.containers ?? []).map((c: any) => ({ name: c.name, ready: false, restartCount: 0, image: c.image, imageID: "", state: { terminated: { exitCode: code, reason: code ? "Error" : "Completed", finishedAt: timestamp() } } })),
        };
        return cur;
      }).catch(() => {});
    }, sleep ? Number(sleep[1]) * 1000 : 20);
    (t as any).unref?.();
  };
  const c: TestCluster = {
    store,
    api,
    running: start(),
    async restartControllers() {
      await c.running.stop();
      c.running = start();
    },
    kubelet,
    async create(kind, obj) {
      const r = resource(kind);
      const o = checkObject(r.type, { apiVersion: r.apiVersion, kind: r.kind, ...obj }, { strict: false }).value;
      return api.create(kind, obj.metadata?.namespace ?? (r.namespaced ? "default" : undefined), o);
    },
    get: (kind, ns, name) => store.get(resKey(kind), ns, name)?.obj,
    list: (kind, ns) => store.list(resKey(kind), ns).items,
    async addNode(name, o = {}) {
      const cap = { cpu: o.cpu ?? "4", memory: o.memory ?? "8Gi", pods: String(o.pods ?? 110) };
      return c.create("Node", {
        metadata: { name, labels: { "kubernetes.io/hostname": name, ...(o.labels ?? {}) } },
        spec: o.taints ? { taints: o.taints } : {},
        status: { capacity: cap, allocatable: cap, conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", lastHeartbeatTime: timestamp(), lastTransitionTime: timestamp() }] },
      });
    },
    until: (what, f, ms = 5000) => until(what, f, ms, 10),
    async close() {
      unsub();
      await c.running.stop();
      await new Promise((r) => setTimeout(r, 20));
      await closeStore();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return c;
}
