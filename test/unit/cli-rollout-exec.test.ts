// Pure parts of skiff rollout / exec / logs: kubectl's status messages, exit codes, --since.
import { expect, test } from "bun:test";
import { exitCodeOf } from "../../cli/commands/exec";
import { parseGoDuration } from "../../cli/commands/logs";
import { rolloutStatus } from "../../cli/commands/rollout";

const dep = (spec: any, status: any, generation = 2) => ({ metadata: { name: "web", generation }, spec, status });

test("deployment rollout status messages, in kubectl's order", () => {
  expect(rolloutStatus("deployments", dep({ replicas: 3 }, { observedGeneration: 1 }))).toEqual({ message: "Waiting for deployment spec update to be observed...", done: false });
  expect(rolloutStatus("deployments", dep({ replicas: 3 }, { observedGeneration: 2, updatedReplicas: 1, replicas: 3 })).message).toBe(
    'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
  );
  expect(rolloutStatus("deployments", dep({ replicas: 3 }, { observedGeneration: 2, updatedReplicas: 3, replicas: 4 })).message).toBe(
    'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...',
  );
  expect(rolloutStatus("deployments", dep({ replicas: 3 }, { observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 2 })).message).toBe(
    'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...',
  );
  expect(rolloutStatus("deployments", dep({ replicas: 3 }, { observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 3 }))).toEqual({
    message: 'deployment "web" successfully rolled out',
    done: true,
  });
  expect(() => rolloutStatus("deployments", dep({}, { observedGeneration: 2, conditions: [{ type: "Progressing", reason: "ProgressDeadlineExceeded" }] }))).toThrow(
    'deployment "web" exceeded its progress deadline',
  );
});

test("daemon set and stateful set status", () => {
  expect(rolloutStatus("daemonsets", dep({}, { observedGeneration: 2, desiredNumberScheduled: 2, updatedNumberScheduled: 1 })).message).toBe(
    'Waiting for daemon set "web" rollout to finish: 1 out of 2 new pods have been updated...',
  );
  expect(rolloutStatus("daemonsets", dep({}, { observedGeneration: 2, desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 2 })).done).toBe(true);
  expect(rolloutStatus("statefulsets", dep({ replicas: 2 }, { observedGeneration: 2, readyReplicas: 1 })).message).toBe("Waiting for 1 pods to be ready...");
  expect(rolloutStatus("statefulsets", dep({ replicas: 2 }, { observedGeneration: 2, readyReplicas: 2, currentReplicas: 2, updateRevision: "r1", currentRevision: "r1" }))).toEqual({
    message: "statefulset rolling update complete 2 pods at revision r1...",
    done: true,
  });
  expect(() => rolloutStatus("statefulsets", dep({ updateStrategy: { type: "OnDelete" } }, {}))).toThrow("only available for RollingUpdate");
});

test("exec exit codes from the v4/v5 status", () => {
  expect(exitCodeOf({ status: "Success" })).toBe(0);
  expect(exitCodeOf({ status: "Failure", reason: "NonZeroExitCode", details: { causes: [{ reason: "ExitCode", message: "42" }] } })).toBe(42);
  expect(exitCodeOf({ status: "Failure", reason: "InternalError", message: "boom" })).toBeNull();
});

test("--since durations", () => {
  expect(parseGoDuration("90s")).toBe(90_000);
  expect(parseGoDuration("1h30m")).toBe(5_400_000);
  expect(parseGoDuration("1.5h")).toBe(5_400_000);
  expect(() => parseGoDuration("5 minutes")).toThrow('time: invalid duration "5 minutes"');
  expect(() => parseGoDuration("")).toThrow();
});
