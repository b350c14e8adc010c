// `skiff rollout` and `skiff top` without containers: a real server process, hollow nodes that
// mark pods Running/Ready, the skiff CLI as a child process and the real kubectl to compare with.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { HollowNodes } from "../../agent/hollow/hollow";
import { KubeClient } from "../../lib/client";
import { loadKubeconfig } from "../../lib/kubeconfig";
import { describeResult, kubectl } from "../harness/kubectl";
import { BUN, REPO, startServer, type SkiffServer } from "../harness/server";
import { until } from "../harness/wait";

let srv: SkiffServer;
let client: KubeClient;
let hollow: HollowNodes;

async function skiff(args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn([BUN, join(REPO, "cli/main.ts"), ...args, "--kubeconfig", srv.kubeconfig], { cwd: REPO, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const timer = setTimeout(() => p.kill(), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}
const show = (r: { code: number; stdout: string; stderr: string }) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

const pods = async (sel: string) => ((await client.list(`/api/v1/namespaces/default/pods`, { labelSelector: sel })).items as any[]).filter((p) => !p.metadata.deletionTimestamp);

beforeAll(async () => {
  srv = await startServer({ name: "cli-rollout" });
  client = new KubeClient(loadKubeconfig({ path: srv.kubeconfig, env: {} }));
  hollow = new HollowNodes(client, { count: 1, prefix: "rollout-", leaseIntervalMs: 1000 });
  await hollow.start();
}, 60_000);

afterAll(async () => {
  await hollow?.stop();
  await srv?.stop();
});

test("skiff rollout status, history, undo, restart, pause, resume on a Deployment", async () => {
  const r0 = await kubectl(srv, ["create", "deployment", "roll", "--image=busybox:1.36", "--replicas=2"]);
  expect(r0.code, describeResult(r0)).toBe(0);
  const st = await skiff(["rollout", "status", "deployment/roll", "--timeout=60s"]);
  expect(st.code, show(st)).toBe(0);
  // Progress lines while waiting, then kubectl's final line.
  expect(st.stdout, show(st)).toEndWith('deployment "roll" successfully rolled out\n');
  expect(st.stdout.split("\n").filter(Boolean).every((l) => /^(Waiting for deployment|deployment "roll" successfully rolled out)/.test(l)), show(st)).toBe(true);

  const set = await kubectl(srv, ["set", "image", "deployment/roll", "busybox=busybox:1.37"]);
  expect(set.code, describeResult(set)).toBe(0);
  expect((await skiff(["rollout", "status", "deploy", "roll", "--timeout=60s"])).code).toBe(0);
  const hist = await skiff(["rollout", "history", "deployment/roll"]);
  const khist = await kubectl(srv, ["rollout", "history", "deployment/roll"]);
  expect(hist.stdout, show(hist)).toBe(khist.stdout);
  expect(hist.stdout).toBe("deployment.apps/roll \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n");
  const rev1 = await skiff(["rollout", "history", "deployment/roll", "--revision=1"]);
  expect(rev1.stdout, show(rev1)).toContain("deployment.apps/roll with revision #1\nPod Template:\n");
  expect(rev1.stdout).toContain("busybox:1.36");

  const undo = await skiff(["rollout", "undo", "deployment/roll"]);
  expect(undo.stdout, show(undo)).toBe("deployment.apps/roll rolled back\n");
  expect((await skiff(["rollout", "status", "deployment/roll", "--timeout=60s"])).code).toBe(0);
  await until("undo back to 1.36", async () => (await pods("app=roll")).every((p) => p.spec.containers[0].image === "busybox:1.36"));
  const again = await skiff(["rollout", "undo", "deployment/roll", "--to-revision=3"]);
  expect(again.stdout, show(again)).toBe("deployment.apps/roll skipped rollback (current template already matches revision 3)\n");
  const missing = await skiff(["rollout", "undo", "deployment/roll", "--to-revision=9"]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toBe("error: unable to find specified revision 9 in history\n");

  const pause = await skiff(["rollout", "pause", "deployment/roll"]);
  expect(pause.stdout, show(pause)).toBe("deployment.apps/roll paused\n");
  const twice = await skiff(["rollout", "pause", "deployment/roll"]);
  expect(twice.code).toBe(1);
  expect(twice.stderr).toBe('error: deployments.apps "roll" is already paused\n');
  const noRestart = await skiff(["rollout", "restart", "deployment/roll"]);
  expect(noRestart.code).toBe(1);
  const resume = await skiff(["rollout", "resume", "deployment/roll"]);
  expect(resume.stdout, show(resume)).toBe("deployment.apps/roll resumed\n");

  const before = new Set((await pods("app=roll")).map((p) => p.metadata.uid));
  const restart = await skiff(["rollout", "restart", "deployment/roll"]);
  expect(restart.stdout, show(restart)).toBe("deployment.apps/roll restarted\n");
  const d = await client.get("/apis/apps/v1/namespaces/default/deployments/roll");
  expect(d.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
  expect((await skiff(["rollout", "status", "deployment/roll", "--timeout=60s"])).code).toBe(0);
  await until("restarted pods", async () => (await pods("app=roll")).every((p) => !before.has(p.metadata.uid)));

  const nf = await skiff(["rollout", "status", "deployment/nope"]);
  expect(nf.code).toBe(1);
  expect(nf.stderr).toBe('Error from server (NotFound): deployments.apps "nope" not found\n');
  const noWatch = await skiff(["rollout", "status", "deployment/roll", "--watch=false"]);
  expect(noWatch.code, show(noWatch)).toBe(0);
}, 120_000);

test("skiff top and kubectl top agree when no node can be asked (hollow nodes have no tunnel)", async () => {
  const k = await kubectl(srv, ["top", "node"]);
  const s = await skiff(["top", "node"]);
  expect(k.stderr).toContain("metrics not available yet");
  expect(s.code).toBe(1);
  expect(s.stderr).toBe("error: metrics not available yet\n");
  // Pods that exist but have no metrics yet: kubectl's message, from both.
  const kp = await kubectl(srv, ["top", "pod", "-l", "app=roll"]);
  const sp = await skiff(["top", "pod", "-l", "app=roll"]);
  expect(kp.stderr).toContain("error: metrics not available yet");
  expect(sp.stderr, show(sp)).toBe("error: metrics not available yet\n");
  const none = await skiff(["top", "pod", "-n", "kube-public"]);
  expect(none.code, show(none)).toBe(0);
  expect(none.stderr).toBe("No resources found in kube-public namespace.\n");
  const bad = await skiff(["top", "pod", "--sort-by=disk"]);
  expect(bad.stderr).toBe("error: --sort-by accepts only cpu or memory\n");
});
