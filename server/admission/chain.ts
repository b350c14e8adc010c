// Runs the admission plugins in order: every mutating phase first, then every validating phase
// (kube-apiserver's two-phase order, so a validator sees the final object). The registry calls
// the phases separately, with the kind's strategy and validation in between, as upstream does;
// run() is both at once for requests that store nothing themselves (CONNECT, subresources).
import type { AdmissionPlugin, AdmissionRequest } from "./types";

export class AdmissionChain {
  constructor(private readonly plugins: readonly AdmissionPlugin[]) {}

  get names(): string[] {
    return this.plugins.map((p) => p.name);
  }

  /** The mutating phase. */
  async admit(req: AdmissionRequest): Promise<void> {
    for (const p of this.plugins) if (p.admit && p.handles(req)) await p.admit(req);
  }

  /** The validating phase. */
  async validate(req: AdmissionRequest): Promise<void> {
    for (const p of this.plugins) if (p.validate && p.handles(req)) await p.validate(req);
  }

  async run(req: AdmissionRequest): Promise<void> {
    await this.admit(req);
    await this.validate(req);
  }
}
