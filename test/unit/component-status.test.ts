// ComponentStatus objects from health checks: a check's answer is the Healthy message, its
// error (or silence past the timeout) the Unhealthy error.
import { expect, test } from "bun:test";
import { componentStatuses } from "../../server/api/component-status";

test("healthy, failing and hung checks become upstream-shaped ComponentStatuses, in order", async () => {
  const t0 = Date.now();
  const out = await componentStatuses(
    {
      scheduler: async () => "ok: here",
      "controller-manager": async () => {
        throw new Error("no leader");
      },
      "etcd-0": () => new Promise<string>(() => {}),
    },
    200,
  );
  expect(Date.now() - t0).toBeLessThan(2000);
  expect(out.map((o) => o.metadata.name)).toEqual(["scheduler", "controller-manager", "etcd-0"]);
  expect(out[0]).toEqual({ kind: "ComponentStatus", apiVersion: "v1", metadata: { name: "scheduler", creationTimestamp: null }, conditions: [{ type: "Healthy", status: "True", message: "ok: here" }] });
  expect(out[1].conditions).toEqual([{ type: "Healthy", status: "False", message: "", error: "no leader" }]);
  expect(out[2].conditions[0]).toMatchObject({ status: "False", error: "no answer within 0.2s" });
});
