import { describe, expect, test } from "bun:test";
import { columnsByKind, columnsFor, customResourceDefaultColumns, defaultColumns, rowCells } from "../../schemas/columns/index";
import { humanDuration } from "../../schemas/helpers/duration";
import { parseTime, rfc3339 } from "../../schemas/columns/format";
import { formatLabelSelector, labelSelectorString } from "../../schemas/helpers/selectors";
import type { Column } from "../../schemas/registry";

const NOW = Date.parse("2025-06-01T12:00:00Z");
const ago = (ms: number): string => new Date(NOW - ms).toISOString();
const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

/** The cells kubectl shows without -o wide (priority 0). */
function row(key: string, o: unknown): unknown[] {
  const cols = columnsByKind[key]!;
  expect(cols).toBeDefined();
  return cols.filter((c) => c.priority === 0).map((c) => c.cell(o, NOW));
}
function wide(key: string, o: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of columnsByKind[key]!) out[c.name] = c.cell(o, NOW);
  return out;
}
const names = (key: string): string[] => columnsByKind[key]!.map((c) => c.name);

describe("humanDuration (k8s.io/apimachinery/pkg/util/duration.HumanDuration)", () => {
  const cases: [number, string][] = [
    [-2 * S, "<invalid>"],
    [-1999, "0s"],
    [-1 * S, "0s"],
    [0, "0s"],
    [999, "0s"],
    [59 * S, "59s"],
    [60 * S, "60s"],
    [119 * S, "119s"],
    [120 * S, "2m"],
    [150 * S, "2m30s"],
    [5 * M + 10 * S, "5m10s"],
    [9 * M + 59 * S, "9m59s"],
    [10 * M, "10m"],
    [10 * M + 59 * S, "10m"],
    [179 * M, "179m"],
    [3 * H, "3h"],
    [3 * H + 30 * M, "3h30m"],
    [7 * H + 59 * M, "7h59m"],
    [8 * H, "8h"],
    [47 * H + 59 * M, "47h"],
    [48 * H, "2d"],
    [3 * D + 4 * H, "3d4h"],
    [7 * D + 23 * H, "7d23h"],
    [8 * D, "8d"],
    [729 * D, "729d"],
    [730 * D, "2y"],
    [740 * D, "2y10d"],
    [8 * 365 * D, "8y"],
    [20 * 365 * D, "20y"],
  ];
  for (const [ms, want] of cases) test(`${ms}ms → ${want}`, () => expect(humanDuration(ms)).toBe(want));
});

describe("time helpers", () => {
  test("parseTime", () => {
    expect(parseTime("2025-06-01T12:00:00Z")).toBe(NOW);
    expect(parseTime("2025-06-01T12:00:00.123456Z")).toBe(NOW + 123);
    expect(parseTime("2025-06-01T14:00:00+02:00")).toBe(NOW);
    expect(parseTime("0001-01-01T00:00:00Z")).toBeUndefined();
    expect(parseTime(undefined)).toBeUndefined();
    expect(parseTime("garbage")).toBeUndefined();
  });
  test("rfc3339", () => {
    expect(rfc3339("2025-06-01T12:00:00.5Z")).toBe("2025-06-01T12:00:00Z");
    expect(rfc3339(undefined)).toBe("0001-01-01T00:00:00Z");
  });
});

describe("label selectors", () => {
  test("format", () => {
    expect(formatLabelSelector(undefined)).toBe("<none>");
    expect(formatLabelSelector({})).toBe("<none>");
    expect(labelSelectorString(undefined)).toBe("");
    expect(
      formatLabelSelector({
        matchLabels: { tier: "web", app: "x" },
        matchExpressions: [
          { key: "env", operator: "In", values: ["prod", "dev"] },
          { key: "zz", operator: "DoesNotExist" },
          { key: "b", operator: "Exists" },
          { key: "c", operator: "NotIn", values: ["q"] },
        ],
      }),
    ).toBe("app=x,b,c notin (q),env in (dev,prod),tier=web,!zz");
    expect(formatLabelSelector({ matchExpressions: [{ key: "a", operator: "In", values: [] }] })).toBe("<error>");
    expect(formatLabelSelector({ matchExpressions: [{ key: "a", operator: "Bogus" }] })).toBe("<error>");
  });
});

// ---------------------------------------------------------------------------------------------
// Pod

function pod(over: { spec?: any; status?: any; metadata?: any } = {}): any {
  return {
    metadata: { name: "p", namespace: "default", creationTimestamp: ago(10 * M), ...over.metadata },
    spec: { containers: [{ name: "a", image: "nginx" }, { name: "b", image: "busybox" }], ...over.spec },
    status: { phase: "Running", ...over.status },
  };
}

describe("Pod", () => {
  test("columns", () => {
    expect(names("/Pod")).toEqual(["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"]);
    const cols = columnsByKind["/Pod"]!;
    expect(cols[0]!.format).toBe("name");
    expect(cols.map((c) => c.priority)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1]);
  });

  test("2 containers, 1 ready, 3 restarts 5m ago", () => {
    const p = pod({
      status: {
        podIPs: [{ ip: "10.1.0.5" }],
        containerStatuses: [
          { name: "a", ready: true, restartCount: 0, state: { running: { startedAt: ago(9 * M) } } },
          {
            name: "b",
            ready: false,
            restartCount: 3,
            state: { running: { startedAt: ago(4 * M) } },
            lastState: { terminated: { exitCode: 1, reason: "Error", finishedAt: ago(5 * M) } },
          },
        ],
      },
      spec: { nodeName: "n1" },
    });
    expect(row("/Pod", p)).toEqual(["p", "1/2", "Running", "3 (5m ago)", "10m"]);
    const w = wide("/Pod", p);
    expect([w["IP"], w["Node"], w["Nominated Node"], w["Readiness Gates"]]).toEqual(["10.1.0.5", "n1", "<none>", "<none>"]);
  });

  test("no restarts: plain 0", () => {
    expect(row("/Pod", pod())).toEqual(["p", "0/2", "Running", "0", "10m"]);
  });

  test("CrashLoopBackOff", () => {
    const p = pod({
      status: {
        containerStatuses: [
          { name: "a", ready: true, restartCount: 0, state: { running: {} } },
          {
            name: "b",
            ready: false,
            restartCount: 7,
            state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 5m0s" } },
            lastState: { terminated: { exitCode: 1, reason: "Error", finishedAt: ago(2 * M + 5 * S) } },
          },
        ],
      },
    });
    expect(row("/Pod", p)).toEqual(["p", "1/2", "CrashLoopBackOff", "7 (2m5s ago)", "10m"]);
  });

  test("first container's reason wins (statuses scanned last to first)", () => {
    const p = pod({
      status: {
        containerStatuses: [
          { name: "a", state: { waiting: { reason: "ImagePullBackOff" } } },
          { name: "b", state: { waiting: { reason: "ContainerCreating" } } },
        ],
      },
    });
    expect(row("/Pod", p)[2]).toBe("ImagePullBackOff");
  });

  test("terminated without reason: ExitCode / Signal", () => {
    const mk = (t: any) => pod({ status: { containerStatuses: [{ name: "a", state: { terminated: t } }] } });
    expect(row("/Pod", mk({ exitCode: 137 }))[2]).toBe("ExitCode:137");
    expect(row("/Pod", mk({ exitCode: 0, signal: 9 }))[2]).toBe("Signal:9");
    expect(row("/Pod", mk({ exitCode: 0, reason: "Completed" }))[2]).toBe("Completed");
  });

  test("Pending with no statuses shows the phase; status.reason overrides", () => {
    expect(row("/Pod", pod({ status: { phase: "Pending" } }))[2]).toBe("Pending");
    expect(row("/Pod", pod({ status: { phase: "Failed", reason: "Evicted" } }))[2]).toBe("Evicted");
  });

  test("SchedulingGated", () => {
    const p = pod({ status: { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "SchedulingGated" }] } });
    expect(row("/Pod", p)[2]).toBe("SchedulingGated");
  });

  const initSpec = { initContainers: [{ name: "init", image: "busybox" }] };

  test("Init:0/1 while the init container runs", () => {
    const p = pod({
      spec: initSpec,
      status: {
        phase: "Pending",
        initContainerStatuses: [{ name: "init", ready: false, restartCount: 0, state: { running: {} } }],
        containerStatuses: [
          { name: "a", state: { waiting: { reason: "PodInitializing" } } },
          { name: "b", state: { waiting: { reason: "PodInitializing" } } },
        ],
      },
    });
    expect(row("/Pod", p)).toEqual(["p", "0/2", "Init:0/1", "0", "10m"]);
  });

  test("Init:1/2 with two init containers", () => {
    const p = pod({
      spec: { initContainers: [{ name: "i1" }, { name: "i2" }] },
      status: {
        phase: "Pending",
        initContainerStatuses: [
          { name: "i1", state: { terminated: { exitCode: 0, reason: "Completed" } } },
          { name: "i2", state: { running: {} } },
        ],
      },
    });
    expect(row("/Pod", p)[2]).toBe("Init:1/2");
  });

  test("Init:Error, Init:ExitCode, Init:CrashLoopBackOff; init restarts count", () => {
    const term = pod({
      spec: initSpec,
      status: {
        phase: "Pending",
        initContainerStatuses: [
          { name: "init", restartCount: 2, state: { terminated: { exitCode: 1, reason: "Error" } }, lastState: { terminated: { exitCode: 1, finishedAt: ago(30 * S) } } },
        ],
      },
    });
    expect(row("/Pod", term)).toEqual(["p", "0/2", "Init:Error", "2 (30s ago)", "10m"]);
    const code = pod({ spec: initSpec, status: { phase: "Pending", initContainerStatuses: [{ name: "init", state: { terminated: { exitCode: 3 } } }] } });
    expect(row("/Pod", code)[2]).toBe("Init:ExitCode:3");
    const sig = pod({ spec: initSpec, status: { phase: "Pending", initContainerStatuses: [{ name: "init", state: { terminated: { exitCode: 0, signal: 15 } } }] } });
    // exit code 0 means "done" even with a signal recorded
    expect(row("/Pod", sig)[2]).toBe("Pending");
    const crash = pod({ spec: initSpec, status: { phase: "Pending", initContainerStatuses: [{ name: "init", state: { waiting: { reason: "CrashLoopBackOff" } } }] } });
    expect(row("/Pod", crash)[2]).toBe("Init:CrashLoopBackOff");
  });

  test("PodInitializing after init containers complete", () => {
    const p = pod({
      spec: initSpec,
      status: {
        phase: "Pending",
        initContainerStatuses: [{ name: "init", state: { terminated: { exitCode: 0, reason: "Completed" } } }],
        containerStatuses: [
          { name: "a", state: { waiting: { reason: "PodInitializing" } } },
          { name: "b", state: { waiting: { reason: "PodInitializing" } } },
        ],
      },
    });
    expect(row("/Pod", p)[2]).toBe("PodInitializing");
  });

  test("sidecar (restartable init container) counts toward READY", () => {
    const p = pod({
      spec: { initContainers: [{ name: "side", restartPolicy: "Always" }] },
      status: {
        conditions: [{ type: "Initialized", status: "True" }],
        initContainerStatuses: [
          { name: "side", started: true, ready: true, restartCount: 1, state: { running: {} }, lastState: { terminated: { exitCode: 1, finishedAt: ago(3 * M) } } },
        ],
        containerStatuses: [
          { name: "a", ready: true, state: { running: {} } },
          { name: "b", ready: true, state: { running: {} } },
        ],
      },
    });
    expect(row("/Pod", p)).toEqual(["p", "3/3", "Running", "1 (3m ago)", "10m"]);
  });

  test("Completed container next to a running one: Running vs NotReady", () => {
    const base = {
      containerStatuses: [
        { name: "a", ready: true, state: { running: {} } },
        { name: "b", ready: false, state: { terminated: { exitCode: 0, reason: "Completed" } } },
      ],
    };
    expect(row("/Pod", pod({ status: { ...base } }))[2]).toBe("NotReady");
    expect(row("/Pod", pod({ status: { ...base, conditions: [{ type: "Ready", status: "True" }] } }))[2]).toBe("Running");
  });

  test("Terminating / Unknown when deletionTimestamp is set", () => {
    expect(row("/Pod", pod({ metadata: { deletionTimestamp: ago(S) } }))[2]).toBe("Terminating");
    expect(row("/Pod", pod({ metadata: { deletionTimestamp: ago(S) }, status: { phase: "Succeeded" } }))[2]).toBe("Succeeded");
    expect(row("/Pod", pod({ metadata: { deletionTimestamp: ago(S) }, status: { reason: "NodeLost" } }))[2]).toBe("Unknown");
  });

  test("readiness gates", () => {
    const p = pod({
      spec: { readinessGates: [{ conditionType: "x/one" }, { conditionType: "x/two" }] },
      status: { conditions: [{ type: "x/one", status: "True" }, { type: "x/two", status: "False" }] },
    });
    expect(wide("/Pod", p)["Readiness Gates"]).toBe("1/2");
  });
});

// ---------------------------------------------------------------------------------------------
// Workloads

describe("apps and batch", () => {
  test("Deployment", () => {
    expect(names("apps/Deployment")).toEqual(["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"]);
    const d = {
      metadata: { name: "d", creationTimestamp: ago(5 * M + 10 * S) },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: "web" } },
        template: { spec: { containers: [{ name: "web", image: "nginx:1.27" }, { name: "log", image: "fluent" }] } },
      },
      status: { replicas: 3, readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
    };
    expect(row("apps/Deployment", d)).toEqual(["d", "2/3", 3, 2, "5m10s"]);
    const w = wide("apps/Deployment", d);
    expect([w["Containers"], w["Images"], w["Selector"]]).toEqual(["web,log", "nginx:1.27,fluent", "app=web"]);
  });

  test("ReplicaSet / StatefulSet / DaemonSet", () => {
    const rs = { metadata: { name: "r", creationTimestamp: ago(3 * D + 4 * H) }, spec: { replicas: 2 }, status: { replicas: 2, readyReplicas: 1 } };
    expect(row("apps/ReplicaSet", rs)).toEqual(["r", 2, 2, 1, "3d4h"]);
    expect(row("apps/StatefulSet", { metadata: { name: "s" }, spec: { replicas: 3 }, status: { readyReplicas: 3 } })).toEqual(["s", "3/3", "<unknown>"]);
    const ds = {
      metadata: { name: "ds", creationTimestamp: ago(H) },
      spec: { template: { spec: { nodeSelector: { "kubernetes.io/os": "linux" } } } },
      status: { desiredNumberScheduled: 2, currentNumberScheduled: 2, numberReady: 1, updatedNumberScheduled: 2, numberAvailable: 1 },
    };
    expect(row("apps/DaemonSet", ds)).toEqual(["ds", 2, 2, 1, 2, 1, "kubernetes.io/os=linux", "60m"]);
  });

  test("ControllerRevision", () => {
    const cr = {
      metadata: { name: "ds-abc", ownerReferences: [{ apiVersion: "apps/v1", kind: "DaemonSet", name: "ds", uid: "u", controller: true }] },
      revision: 4,
    };
    expect(row("apps/ControllerRevision", cr)).toEqual(["ds-abc", "daemonset.apps/ds", 4, "<unknown>"]);
  });

  test("Job", () => {
    expect(names("batch/Job")).toEqual(["Name", "Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector"]);
    const done = {
      metadata: { name: "j", creationTimestamp: ago(2 * M) },
      spec: { completions: 1 },
      status: { succeeded: 1, startTime: ago(2 * M), completionTime: ago(2 * M - 7 * S), conditions: [{ type: "Complete", status: "True" }] },
    };
    expect(row("batch/Job", done)).toEqual(["j", "Complete", "1/1", "7s", "2m"]);
    const running = { metadata: { name: "j2", creationTimestamp: ago(30 * S) }, spec: { parallelism: 3 }, status: { startTime: ago(30 * S) } };
    expect(row("batch/Job", running)).toEqual(["j2", "Running", "0/1 of 3", "30s", "30s"]);
    expect(row("batch/Job", { metadata: { name: "j3", deletionTimestamp: ago(0) }, status: { conditions: [{ type: "Suspended", status: "True" }] } })[1]).toBe("Terminating");
  });

  test("CronJob", () => {
    const cj = { metadata: { name: "c", creationTimestamp: ago(D) }, spec: { schedule: "*/5 * * * *", suspend: false }, status: { active: [{}], lastScheduleTime: ago(4 * M) } };
    expect(row("batch/CronJob", cj)).toEqual(["c", "*/5 * * * *", "<none>", "False", 1, "4m", "24h"]);
  });
});

// ---------------------------------------------------------------------------------------------
// Core

describe("core", () => {
  test("Service", () => {
    expect(names("/Service")).toEqual(["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]);
    const svc = {
      metadata: { name: "s", creationTimestamp: ago(90 * S) },
      spec: { type: "NodePort", clusterIP: "10.96.0.10", clusterIPs: ["10.96.0.10"], ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }, { port: 53, protocol: "UDP" }], selector: { app: "x" } },
    };
    expect(row("/Service", svc)).toEqual(["s", "NodePort", "10.96.0.10", "<none>", "80:30080/TCP,53/UDP", "90s"]);
    expect(wide("/Service", svc)["Selector"]).toBe("app=x");
    const lb = { metadata: { name: "lb" }, spec: { type: "LoadBalancer", clusterIPs: ["10.0.0.2"], ports: [{ port: 443, protocol: "TCP", nodePort: 31443 }] }, status: {} };
    expect(row("/Service", lb)[3]).toBe("<pending>");
    const lb2 = { ...lb, status: { loadBalancer: { ingress: [{ ip: "203.0.113.9" }, { hostname: "a.example.com" }] } } };
    expect(row("/Service", lb2)[3]).toBe("203.0.113.9,a.example.com");
    const en = { metadata: { name: "en" }, spec: { type: "ExternalName", externalName: "db.example.com" } };
    expect(row("/Service", en)).toEqual(["en", "ExternalName", "<none>", "db.example.com", "<none>", "<unknown>"]);
  });

  test("Endpoints", () => {
    const ep = {
      metadata: { name: "e" },
      subsets: [{ addresses: [{ ip: "10.0.0.1" }, { ip: "10.0.0.2" }, { ip: "fd00::1" }, { ip: "10.0.0.4" }], ports: [{ port: 8080 }] }],
    };
    expect(row("/Endpoints", ep)[1]).toBe("10.0.0.1:8080,10.0.0.2:8080,[fd00::1]:8080 + 1 more...");
    expect(row("/Endpoints", { metadata: { name: "e" } })[1]).toBe("<none>");
  });

  test("Node", () => {
    expect(names("/Node")).toEqual(["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"]);
    const n = {
      metadata: { name: "n1", creationTimestamp: ago(8 * D), labels: { "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "" } },
      spec: { unschedulable: true },
      status: {
        conditions: [{ type: "MemoryPressure", status: "False" }, { type: "Ready", status: "True" }],
        addresses: [{ type: "InternalIP", address: "192.168.1.10" }, { type: "Hostname", address: "n1" }],
        nodeInfo: { kubeletVersion: "v1.32.0", osImage: "Debian GNU/Linux 12 (bookworm)", kernelVersion: "6.1.0", containerRuntimeVersion: "skiff://0.1.0" },
      },
    };
    expect(row("/Node", n)).toEqual(["n1", "Ready,SchedulingDisabled", "control-plane,worker", "8d", "v1.32.0"]);
    const w = wide("/Node", n);
    expect([w["Internal-IP"], w["External-IP"], w["OS-Image"]]).toEqual(["192.168.1.10", "<none>", "Debian GNU/Linux 12 (bookworm)"]);
    expect(row("/Node", { metadata: { name: "n2" }, status: { conditions: [{ type: "Ready", status: "Unknown" }] } })[1]).toBe("NotReady");
    expect(row("/Node", { metadata: { name: "n3" } }).slice(1, 3)).toEqual(["Unknown", "<none>"]);
  });

  test("Event", () => {
    expect(columnsByKind["/Event"]!.filter((c) => c.priority === 0).map((c) => c.name)).toEqual(["Last Seen", "Type", "Reason", "Object", "Message"]);
    const ev = {
      metadata: { name: "p.123" },
      involvedObject: { kind: "Pod", name: "p", fieldPath: "spec.containers{a}" },
      reason: "BackOff",
      message: "Back-off restarting failed container\n",
      type: "Warning",
      source: { component: "kubelet", host: "n1" },
      firstTimestamp: ago(10 * M),
      lastTimestamp: ago(30 * S),
      count: 12,
    };
    expect(row("/Event", ev)).toEqual(["30s", "Warning", "BackOff", "pod/p", "Back-off restarting failed container"]);
    const w = wide("/Event", ev);
    expect([w["Subobject"], w["Source"], w["First Seen"], w["Count"], w["Name"]]).toEqual(["spec.containers{a}", "kubelet, n1", "10m", 12, "p.123"]);
    const v1 = { metadata: { name: "e2" }, regarding: { kind: "Node", name: "n1" }, note: "hi", reason: "R", type: "Normal", eventTime: ago(3 * M), reportingController: "skiff" };
    expect(row("events.k8s.io/Event", v1)).toEqual(["3m", "Normal", "R", "node/n1", "hi"]);
    expect(wide("/Event", v1)["Count"]).toBe(1);
  });

  test("ConfigMap, Secret, ServiceAccount, Namespace", () => {
    expect(row("/ConfigMap", { metadata: { name: "c" }, data: { a: "1", b: "2" }, binaryData: { c: "AA==" } })).toEqual(["c", 3, "<unknown>"]);
    expect(row("/Secret", { metadata: { name: "s" }, type: "Opaque", data: { a: "MQ==" } })).toEqual(["s", "Opaque", 1, "<unknown>"]);
    expect(row("/ServiceAccount", { metadata: { name: "default" } })).toEqual(["default", 0, "<unknown>"]);
    expect(row("/Namespace", { metadata: { name: "kube-system", creationTimestamp: ago(3 * H + 30 * M) }, status: { phase: "Active" } })).toEqual(["kube-system", "Active", "3h30m"]);
  });

  test("PersistentVolume / PersistentVolumeClaim", () => {
    const pv = {
      metadata: { name: "pv1" },
      spec: { capacity: { storage: "10Gi" }, accessModes: ["ReadWriteMany", "ReadWriteOnce"], persistentVolumeReclaimPolicy: "Retain", claimRef: { namespace: "ns", name: "c" }, storageClassName: "local" },
      status: { phase: "Bound" },
    };
    expect(row("/PersistentVolume", pv)).toEqual(["pv1", "10Gi", "RWO,RWX", "Retain", "Bound", "ns/c", "local", "<unset>", "", "<unknown>"]);
    const pvc = { metadata: { name: "c" }, spec: { volumeName: "pv1", storageClassName: "local" }, status: { phase: "Bound", capacity: { storage: "10Gi" }, accessModes: ["ReadWriteOnce"] } };
    expect(row("/PersistentVolumeClaim", pvc)).toEqual(["c", "Bound", "pv1", "10Gi", "RWO", "local", "<unset>", "<unknown>"]);
    expect(row("/PersistentVolumeClaim", { metadata: { name: "c2" }, spec: {}, status: { phase: "Pending" } })).toEqual(["c2", "Pending", "", "", "", "", "<unset>", "<unknown>"]);
  });

  test("ResourceQuota", () => {
    const rq = {
      metadata: { name: "q" },
      status: { hard: { "requests.cpu": "2", pods: "10", "limits.memory": "4Gi" }, used: { "requests.cpu": "500m", pods: "3" } },
    };
    expect(row("/ResourceQuota", rq)).toEqual(["q", "pods: 3/10, requests.cpu: 500m/2", "limits.memory: 0/4Gi", "<unknown>"]);
  });

  test("PodTemplate", () => {
    const pt = { metadata: { name: "t" }, template: { metadata: { labels: { b: "2", a: "1" } }, spec: { containers: [{ name: "c", image: "i" }] } } };
    expect(row("/PodTemplate", pt)).toEqual(["t", "c", "i", "a=1,b=2"]);
  });

  test("LimitRange uses the default convertor columns", () => {
    expect(names("/LimitRange")).toEqual(["Name", "Created At"]);
    expect(row("/LimitRange", { metadata: { name: "l", creationTimestamp: "2025-01-02T03:04:05Z" } })).toEqual(["l", "2025-01-02T03:04:05Z"]);
  });
});

describe("other groups", () => {
  test("StorageClass default suffix", () => {
    const sc = { metadata: { name: "local", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } }, provisioner: "skiff.io/local" };
    expect(row("storage.k8s.io/StorageClass", sc)).toEqual(["local (default)", "skiff.io/local", "Delete", "Immediate", false, "<unknown>"]);
  });

  test("Ingress / IngressClass / NetworkPolicy", () => {
    const ing = {
      metadata: { name: "i" },
      spec: { ingressClassName: "nginx", rules: [{ host: "a.com" }, { host: "b.com" }, {}, { host: "d.com" }, { host: "e.com" }], tls: [{}] },
      status: { loadBalancer: { ingress: [{ ip: "10.0.0.9" }] } },
    };
    expect(row("networking.k8s.io/Ingress", ing)).toEqual(["i", "nginx", "a.com,b.com,d.com + 2 more...", "10.0.0.9", "80, 443", "<unknown>"]);
    expect(row("networking.k8s.io/IngressClass", { metadata: { name: "nginx" }, spec: { controller: "k8s.io/ingress-nginx", parameters: { apiGroup: "k8s.example.com", kind: "IngressParameters", name: "p" } } })).toEqual([
      "nginx",
      "k8s.io/ingress-nginx",
      "IngressParameters.k8s.example.com/p",
      "<unknown>",
    ]);
    expect(row("networking.k8s.io/NetworkPolicy", { metadata: { name: "np" }, spec: { podSelector: {} } })).toEqual(["np", "<none>", "<unknown>"]);
  });

  test("EndpointSlice", () => {
    const es = { metadata: { name: "es" }, addressType: "IPv4", ports: [{ port: 80 }, { name: "dns" }], endpoints: [{ addresses: ["10.0.0.1"] }, { addresses: ["10.0.0.2"] }] };
    expect(row("discovery.k8s.io/EndpointSlice", es)).toEqual(["es", "IPv4", "80,dns", "10.0.0.1,10.0.0.2", "<unknown>"]);
    expect(row("discovery.k8s.io/EndpointSlice", { metadata: { name: "x" } }).slice(2, 4)).toEqual(["<unset>", "<unset>"]);
  });

  test("Lease", () => {
    expect(row("coordination.k8s.io/Lease", { metadata: { name: "n1" }, spec: { holderIdentity: "n1" } })).toEqual(["n1", "n1", "<unknown>"]);
  });

  test("HorizontalPodAutoscaler", () => {
    const hpa = {
      metadata: { name: "h" },
      spec: {
        scaleTargetRef: { kind: "Deployment", name: "web" },
        minReplicas: 1,
        maxReplicas: 5,
        metrics: [
          { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } } },
          { type: "Resource", resource: { name: "memory", target: { type: "AverageValue", averageValue: "100Mi" } } },
          { type: "Pods", pods: { metric: { name: "qps" }, target: { type: "AverageValue", averageValue: "1k" } } },
        ],
      },
      status: { currentReplicas: 2, currentMetrics: [{ type: "Resource", resource: { name: "cpu", current: { averageUtilization: 12 } } }] },
    };
    expect(row("autoscaling/HorizontalPodAutoscaler", hpa)).toEqual(["h", "Deployment/web", "cpu: 12%/80%, memory: <unknown>/100Mi + 1 more...", "1", 5, 2, "<unknown>"]);
    expect(row("autoscaling/HorizontalPodAutoscaler", { metadata: { name: "h" } })).toEqual(["h", "/", "<none>", "<unset>", 0, 0, "<unknown>"]);
  });

  test("RBAC", () => {
    expect(names("rbac.authorization.k8s.io/ClusterRole")).toEqual(["Name", "Created At"]);
    const rb = {
      metadata: { name: "rb", creationTimestamp: ago(M) },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" },
      subjects: [
        { kind: "User", name: "alice" },
        { kind: "User", name: "bob" },
        { kind: "Group", name: "devs" },
        { kind: "ServiceAccount", namespace: "ci", name: "runner" },
      ],
    };
    expect(row("rbac.authorization.k8s.io/RoleBinding", rb)).toEqual(["rb", "ClusterRole/view", "60s"]);
    const w = wide("rbac.authorization.k8s.io/ClusterRoleBinding", rb);
    expect([w["Users"], w["Groups"], w["ServiceAccounts"]]).toEqual(["alice, bob", "devs", "ci/runner"]);
  });
});

// ---------------------------------------------------------------------------------------------
// Robustness

const requiredKinds = [
  "/Pod", "/Namespace", "/Service", "/Endpoints", "/ConfigMap", "/Secret", "/Node", "/Event", "/ServiceAccount",
  "/PersistentVolume", "/PersistentVolumeClaim", "/ResourceQuota", "/LimitRange", "/PodTemplate",
  "apps/Deployment", "apps/ReplicaSet", "apps/StatefulSet", "apps/DaemonSet", "apps/ControllerRevision",
  "batch/Job", "batch/CronJob",
  "networking.k8s.io/Ingress", "networking.k8s.io/IngressClass", "networking.k8s.io/NetworkPolicy",
  "storage.k8s.io/StorageClass", "coordination.k8s.io/Lease", "discovery.k8s.io/EndpointSlice",
  "autoscaling/HorizontalPodAutoscaler",
  "rbac.authorization.k8s.io/Role", "rbac.authorization.k8s.io/ClusterRole",
  "rbac.authorization.k8s.io/RoleBinding", "rbac.authorization.k8s.io/ClusterRoleBinding",
];

describe("every kind", () => {
  test("required kinds are covered", () => {
    for (const k of requiredKinds) expect(columnsByKind[k], k).toBeDefined();
  });

  const all: [string, Column[]][] = [...Object.entries(columnsByKind), ["<default>", defaultColumns], ["<cr default>", customResourceDefaultColumns]];
  for (const [key, cols] of all) {
    test(`${key}: well-formed columns and total cells`, () => {
      // (upstream also marks VolumeAttachment's "Attacher" column with format "name")
      expect(cols.some((c) => c.name === "Name" && c.format === "name")).toBe(true);
      expect(new Set(cols.map((c) => c.name)).size).toBe(cols.length);
      for (const c of cols) {
        expect(["string", "integer", "number", "boolean", "date"]).toContain(c.type);
        expect(c.description.length).toBeGreaterThan(0);
      }
      const inputs: unknown[] = [
        { metadata: { name: "x" } },
        {},
        null,
        undefined,
        { metadata: { name: "x" }, spec: null, status: null },
        { metadata: { name: "x", labels: null, annotations: null, ownerReferences: "bogus" }, spec: { containers: "nope", selector: 3, ports: [null, 1] }, status: { conditions: [null, "x"], containerStatuses: [null, {}] } },
      ];
      for (const o of inputs) {
        const cells = rowCells(cols, o, NOW);
        expect(cells.length).toBe(cols.length);
        // The column wrapper turns a throwing cell into null; no printer cell is null by design.
        for (const v of cells) expect(v === null ? `null cell in ${key}` : "ok").toBe("ok");
      }
      const named = cols.find((c) => c.name === "Name")!;
      expect(String(named.cell({ metadata: { name: "x" } }, NOW)).startsWith("x")).toBe(true);
    });
  }

  test("columnsFor falls back to the default convertor", () => {
    expect(columnsFor("example.com", "Widget")).toBe(defaultColumns);
    expect(columnsFor("", "Pod")).toBe(columnsByKind["/Pod"]!);
  });
});
