// `componentstatuses` on a 3-server Raft cluster: a follower reports the leader's scheduler and
// controllers and a quorum read; after the leader and another server are killed the survivor
// reports all three Unhealthy, each with why (no leader heard from, no quorum for a read).
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { Cluster } from "./raft-harness";

setDefaultTimeout(180_000);

const cluster = new Cluster(3, { label: "cs" });
afterAll(async () => {
  await cluster.stop();
  cluster.cleanup();
});

const statuses = async (s: (typeof cluster.servers)[number]) => {
  const r = await s.fetch("/api/v1/componentstatuses", { timeoutMs: 15_000 });
  expect(r.status).toBe(200);
  const items = ((await r.json()) as any).items as any[];
  return Object.fromEntries(items.map((i) => [i.metadata.name, i.conditions[0]]));
};

test("a follower reports the leader's components; a server without quorum reports them Unhealthy", async () => {
  await cluster.start();
  const leader = await cluster.leader();
  const follower = cluster.servers.find((s) => s !== leader)!;
  const seen = await statuses(follower);
  expect(seen.scheduler).toMatchObject({ status: "True", message: expect.stringContaining(`on the leader ${leader.name}`) });
  expect(seen["controller-manager"]).toMatchObject({ status: "True", message: expect.stringContaining(`on the leader ${leader.name}`) });
  expect(seen["etcd-0"]).toMatchObject({ status: "True", message: expect.stringContaining("quorum of 3 voters") });
  const onLeader = await statuses(leader);
  expect(onLeader.scheduler.message).toContain(`on this server (${leader.name})`);

  await leader.kill("SIGKILL");
  const other = cluster.servers.find((s) => s !== leader && s !== follower)!;
  await other.kill("SIGKILL");
  // The survivor forgets the leader once an election timeout passes: poll until it says so.
  const deadline = Date.now() + 30_000;
  let last: any;
  for (;;) {
    last = await statuses(follower);
    if (last.scheduler.status === "False" && last["etcd-0"].status === "False") break;
    if (Date.now() > deadline) throw new Error(`still healthy: ${JSON.stringify(last)}`);
    await Bun.sleep(500);
  }
  expect(last.scheduler).toMatchObject({ status: "False", message: "", error: expect.stringContaining("heard from no leader") });
  expect(last["controller-manager"].status).toBe("False");
  expect(last["etcd-0"].error).toMatch(/quorum|no answer within/);
});
