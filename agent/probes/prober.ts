// Probe workers for one running container (pkg/kubelet/prober/worker.go): liveness, readiness and
// startup, each on its own timer with initialDelaySeconds, periodSeconds, timeoutSeconds,
// successThreshold and failureThreshold. Liveness and readiness wait until startup succeeded.
// Results are kept here; a change calls onChange so the pod worker syncs.

import type { Container, Probe } from "../pods/types.ts";
import { runAction, type ActionTarget } from "./handlers.ts";

export type ProbeType = "liveness" | "readiness" | "startup";

export interface ProbeState {
  /** readiness: true once successThreshold successes in a row; false without a probe is never used. */
  ready: boolean;
  /** startup succeeded (true without a startup probe). */
  started: boolean;
  /** liveness or startup failed failureThreshold times: the container must be restarted. */
  failed: ProbeType | null;
  failMessage: string;
}

class ProbeRunner {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private successes = 0;
  private failures = 0;
  private stopped = false;
  result: boolean | null = null;
  lastOutput = "";

  constructor(
    readonly type: ProbeType,
    private readonly probe: Probe,
    private readonly target: ActionTarget,
    private readonly startedAt: number,
    private readonly gate: () => boolean,
    private readonly onResult: (type: ProbeType, ok: boolean, output: string) => void,
    private readonly onFailure: (type: ProbeType, output: string) => void,
  ) {}

  start(): void {
    const initial = Math.max(0, (this.probe.initialDelaySeconds ?? 0) * 1000 - (Date.now() - this.startedAt));
    this.timer = setTimeout(() => this.tick(), initial);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const period = Math.max(1, this.probe.periodSeconds ?? 10) * 1000;
    // Periods count from the start of a probe (kubelet's ticker): a slow probe does not stretch them.
    const t0 = Date.now();
    if (this.gate()) {
      const r = await runAction(this.probe, this.target, this.probe.timeoutSeconds ?? 1);
      if (this.stopped) return;
      this.lastOutput = r.output;
      if (r.ok) {
        this.failures = 0;
        this.successes++;
        const need = this.type === "readiness" ? Math.max(1, this.probe.successThreshold ?? 1) : 1;
        if (this.successes >= need && this.result !== true) {
          this.result = true;
          this.onResult(this.type, true, r.output);
        }
      } else {
        this.successes = 0;
        this.failures++;
        this.onFailure(this.type, r.output);
        if (this.failures >= Math.max(1, this.probe.failureThreshold ?? 3) && this.result !== false) {
          this.result = false;
          this.onResult(this.type, false, r.output);
        }
        // A failed liveness/startup probe leads to a restart: stop probing this container.
        if (this.result === false && this.type !== "readiness") return;
      }
      // startup probing ends with its first success
      if (this.type === "startup" && this.result === true) return;
    }
    this.timer = setTimeout(() => this.tick(), Math.max(0, t0 + period - Date.now()));
  }
}

export class ContainerProbes {
  private readonly runners: ProbeRunner[] = [];
  readonly state: ProbeState;

  constructor(
    readonly containerId: string,
    container: Container,
    target: ActionTarget,
    startedAt: number,
    onChange: () => void,
    /** Every failed probe run (kubelet records an Unhealthy event for each). */
    onFailure: (type: ProbeType, output: string) => void = () => {},
  ) {
    this.state = { ready: !container.readinessProbe, started: !container.startupProbe, failed: null, failMessage: "" };
    const onResult = (type: ProbeType, ok: boolean, output: string) => {
      if (type === "readiness") this.state.ready = ok;
      else if (type === "startup") {
        if (ok) this.state.started = true;
        else {
          this.state.failed = "startup";
          this.state.failMessage = `Startup probe failed: ${output}`;
        }
      } else if (!ok) {
        this.state.failed = "liveness";
        this.state.failMessage = `Liveness probe failed: ${output}`;
      }
      onChange();
    };
    const started = () => this.state.started;
    if (container.startupProbe) this.runners.push(new ProbeRunner("startup", container.startupProbe, target, startedAt, () => true, onResult, onFailure));
    if (container.livenessProbe) this.runners.push(new ProbeRunner("liveness", container.livenessProbe, target, startedAt, started, onResult, onFailure));
    if (container.readinessProbe) this.runners.push(new ProbeRunner("readiness", container.readinessProbe, target, startedAt, started, onResult, onFailure));
    for (const r of this.runners) r.start();
  }

  stop(): void {
    for (const r of this.runners) r.stop();
  }
}
