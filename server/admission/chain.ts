// Runs the admission plugins in order: every mutating phase first, then every validating phase
// (kube-apiserver's two-phase order, so a validator sees the final object).
import type { AdmissionPlugin, AdmissionRequest } from "./types";

export class AdmissionChain {
  constructor(private readonly plugins: readonly AdmissionPlugin[]) {}

  get names(): string[] {
    return this.plugins.map((p) => p.name);
  }

  async run(req: AdmissionRequest): Promise<void> {
    const active = this.plugins.filter((p) => p.handles(req));
    for (const p of active) if (p.admit) await p.admit(req);
    for (const p of active) if (p.validate) await p.validate(req);
  }
}
