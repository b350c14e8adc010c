// The agent's container runtime, ready for the pod worker: containerd (supervised, or an
// existing one via --container-runtime-endpoint), a connected CRI client, the pause image, the
// air-gap images and (once the node has a pod CIDR) the CNI config.
//
//   const rt = await startRuntime({ dataDir, onEvent: log });
//   rt.setPodCidr("10.42.0.0/24");          // writes the CNI conflist, waits for NetworkReady
//   await rt.cri.runPodSandbox(...);
//   await rt.stop();                         // containerd stops; containers keep running

import { CriClient } from "../cri/client.ts";
import { ensurePauseImage, importAirgapImages, type AirgapResult } from "../images/images.ts";
import { PAUSE_IMAGE } from "../images/pause.ts";
import { writeCniConfig } from "./cni.ts";
import { agentPaths, type AgentPaths } from "./config.ts";
import { preflight, type PreflightResult } from "./preflight.ts";
import { ContainerdSupervisor, PreflightError, type SupervisorEvent } from "./supervisor.ts";

export type RuntimeEvent =
  | SupervisorEvent
  | { type: "airgap"; result: AirgapResult }
  | { type: "pause"; image: string; id: string };

export interface RuntimeOptions {
  dataDir: string;
  /** Use this CRI socket instead of starting containerd (--container-runtime-endpoint). */
  containerRuntimeEndpoint?: string;
  /** Write the CNI config now (otherwise call setPodCidr later). */
  podCidr?: string;
  /** Linux bridge for pods (default skiff0). */
  bridge?: string;
  onEvent?: (e: RuntimeEvent) => void;
  logLevel?: "debug" | "info" | "warn" | "error";
}

export interface Runtime {
  cri: CriClient;
  socket: string;
  paths: AgentPaths;
  preflight: PreflightResult;
  /** The image CRI uses for sandboxes. */
  sandboxImage: string;
  supervisor: ContainerdSupervisor | null;
  /** Writes/updates the CNI conflist for the node's pod CIDR and waits for NetworkReady. */
  setPodCidr(podCidr: string, timeoutMs?: number): Promise<void>;
  /** Closes CRI and stops the supervised containerd (containers keep running). */
  stop(): Promise<void>;
}

/** The sandbox image an external containerd is configured with (from CRI Status verbose). */
async function configuredSandboxImage(cri: CriClient): Promise<string | null> {
  try {
    const s = await cri.status(true);
    const cfg = JSON.parse(s.info.config ?? "{}");
    return typeof cfg.sandboxImage === "string" && cfg.sandboxImage ? cfg.sandboxImage : null;
  } catch {
    return null;
  }
}

export async function startRuntime(o: RuntimeOptions): Promise<Runtime> {
  const paths = agentPaths(o.dataDir);
  const emit = (e: RuntimeEvent) => o.onEvent?.(e);
  let supervisor: ContainerdSupervisor | null = null;
  let socket: string;
  let pf: PreflightResult;
  if (o.containerRuntimeEndpoint) {
    pf = preflight({ externalRuntime: true, dataDir: o.dataDir });
    if (!pf.ok) throw new PreflightError(pf);
    socket = o.containerRuntimeEndpoint.replace(/^unix:\/\//, "");
  } else {
    supervisor = new ContainerdSupervisor({ dataDir: o.dataDir, onEvent: emit, logLevel: o.logLevel });
    await supervisor.start();
    pf = supervisor.preflight!;
    socket = supervisor.socket;
  }
  const cri = await CriClient.connect(socket);
  try {
    const sandboxImage = supervisor ? PAUSE_IMAGE : ((await configuredSandboxImage(cri)) ?? PAUSE_IMAGE);
    // Offline machines: an external containerd gets our pause image under the name it expects.
    const ctrOpts = { address: socket, snapshotter: supervisor ? pf.snapshotter : undefined };
    const pause = await ensurePauseImage(cri, { ...ctrOpts, workDir: paths.containerdDir, name: sandboxImage }).catch(async (e) => {
      if (!supervisor && (await cri.imageStatus(sandboxImage))) return (await cri.imageStatus(sandboxImage))!;
      throw e;
    });
    emit({ type: "pause", image: sandboxImage, id: pause.id });
    const airgap = await importAirgapImages(paths.imagesDir, cri, ctrOpts);
    emit({ type: "airgap", result: airgap });

    const setPodCidr = async (podCidr: string, timeoutMs = 15_000) => {
      writeCniConfig({ confDir: paths.cniConfDir, ipamDir: paths.cniIpamDir, podCidr, bridge: o.bridge });
      const end = Date.now() + timeoutMs;
      for (;;) {
        const c = await cri.conditions();
        if (c.NetworkReady?.status) return;
        if (Date.now() > end) throw new Error(`CNI network not ready after ${timeoutMs} ms: ${c.NetworkReady?.message ?? "unknown"}`);
        await Bun.sleep(50);
      }
    };
    if (o.podCidr) await setPodCidr(o.podCidr);
    return {
      cri,
      socket,
      paths,
      preflight: pf,
      sandboxImage,
      supervisor,
      setPodCidr,
      async stop() {
        cri.close();
        await supervisor?.stop();
      },
    };
  } catch (e) {
    cri.close();
    await supervisor?.stop();
    throw e;
  }
}
