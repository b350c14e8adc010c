// v1 ComponentStatus (`kubectl get componentstatuses`): upstream probes the scheduler, the
// controller-manager and etcd; here each entry is a check of this server's own view, run when
// read. A check resolves with what it verified (Healthy) or throws why not (Unhealthy).

/** Component name → its check, in the order listed. */
export type ComponentChecks = Record<string, () => Promise<string>>;

const TIMEOUT_MS = 3000;

async function run(check: () => Promise<string>, timeoutMs: number): Promise<{ ok: boolean; text: string }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000}s`)), timeoutMs);
  });
  try {
    return { ok: true, text: await Promise.race([check(), late]) };
  } catch (e) {
    return { ok: false, text: (e as Error)?.message ?? String(e) };
  } finally {
    clearTimeout(timer);
  }
}

/** The ComponentStatus objects, checks run concurrently (upstream's shape: one Healthy condition). */
export async function componentStatuses(checks: ComponentChecks, timeoutMs = TIMEOUT_MS): Promise<any[]> {
  const names = Object.keys(checks);
  const results = await Promise.all(names.map((n) => run(checks[n]!, timeoutMs)));
  return names.map((name, i) => {
    const r = results[i]!;
    return {
      kind: "ComponentStatus",
      apiVersion: "v1",
      metadata: { name, creationTimestamp: null },
      conditions: [r.ok ? { type: "Healthy", status: "True", message: r.text } : { type: "Healthy", status: "False", message: "", error: r.text }],
    };
  });
}
