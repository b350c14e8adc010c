// Which container a stream means, decided from this node's own runtime state: the containers
// labelled with the pod's UID and the container's name. Never from a container ID in pod
// status — anyone who may write pod status could point exec or logs at another pod's container.
import type { CriClient } from "../cri/client.ts";
import type { Container } from "../cri/types.ts";
import { L } from "../pods/cri-config.ts";
import { LogError } from "./logs.ts";

/** The pod's containers of that name, newest first (by restart attempt, then creation). */
export async function containersOf(cri: CriClient, podUid: string, name: string): Promise<Container[]> {
  const list = await cri.listContainers({ labelSelector: { [L.podUid]: podUid, [L.containerName]: name } });
  // The label filter is containerd's; checking again costs nothing and does not trust it blindly.
  return list
    .filter((c) => c.labels?.[L.podUid] === podUid && c.labels?.[L.containerName] === name)
    .sort((a, b) => (b.metadata?.attempt ?? 0) - (a.metadata?.attempt ?? 0) || b.createdAt - a.createdAt);
}

/** The running container for exec/attach (404 when there is none). */
export async function runningContainer(cri: CriClient, podUid: string, name: string): Promise<string> {
  const running = (await containersOf(cri, podUid, name)).find((c) => c.state === "CONTAINER_RUNNING");
  if (!running) throw new LogError(404, "NotFound", `container "${name}" of pod ${podUid} is not running on this node`);
  return running.id;
}

/** The container whose logs are asked for: the newest, or with `previous` the one before it. */
export async function logContainer(cri: CriClient, podUid: string, name: string, previous: boolean): Promise<string | undefined> {
  const all = await containersOf(cri, podUid, name);
  if (!previous) return all[0]?.id;
  const newest = all[0];
  // The previous one is the newest that is not the current start.
  return all.find((c) => c !== newest && c.state === "CONTAINER_EXITED")?.id;
}
