// Controller work queues and the scheduler, named as client-go's workqueue and kube-scheduler
// export them.
import { Counter, Gauge, Histogram } from "./prom";
import { metricsRegistry } from "./apiserver";

const r = [metricsRegistry];
const adds = new Counter({ name: "workqueue_adds_total", help: "Total number of adds handled by workqueue", labelNames: ["name"], registers: r });
const depth = new Gauge({ name: "workqueue_depth", help: "Current depth of workqueue", labelNames: ["name"], registers: r });
const retries = new Counter({ name: "workqueue_retries_total", help: "Total number of retries handled by workqueue", labelNames: ["name"], registers: r });
const work = new Histogram({
  name: "workqueue_work_duration_seconds",
  help: "How long in seconds processing an item from workqueue takes.",
  labelNames: ["name"],
  buckets: [0.001, 0.01, 0.1, 1, 10],
  registers: r,
});
const attempts = new Counter({
  name: "scheduler_schedule_attempts_total",
  help: "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem.",
  labelNames: ["result", "profile"],
  registers: r,
});

/** What a named WorkQueue reports (one per controller). */
export function queueMetrics(name: string) {
  return {
    added: (pending: number) => {
      adds.inc({ name });
      depth.set({ name }, pending);
    },
    depth: (pending: number) => depth.set({ name }, pending),
    retried: () => retries.inc({ name }),
    worked: (seconds: number) => work.observe({ name }, seconds),
  };
}

export function scheduleAttempt(result: "scheduled" | "unschedulable" | "error"): void {
  attempts.inc({ result, profile: "default-scheduler" });
}
