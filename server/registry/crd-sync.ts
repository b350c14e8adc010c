// Serve the kinds of every established CustomResourceDefinition: on every node (leader or not),
// from the store's own applied state, so a CRD written anywhere is served everywhere once
// applied. The schemas registry is updated in place; discovery and OpenAPI read it.
import { setCustomResources } from "../../schemas/registry";
import { customResources } from "../../schemas/structural/resources";
import type { Store } from "../store/store";
import { CRD_KEY } from "./kinds/custom-resources";

function established(crd: any): boolean {
  return (crd.status?.conditions ?? []).some((c: any) => c.type === "Established" && c.status === "True");
}

function serve(crd: any): void {
  const name = crd.metadata.name;
  try {
    setCustomResources(name, established(crd) ? customResources(crd) : []);
  } catch (e) {
    // A CRD that passed validation always converts; keep serving nothing rather than crash.
    console.error(`customresourcedefinition ${name}: cannot serve: ${(e as Error).message}`);
    setCustomResources(name, []);
  }
}

/** Start serving the store's CRDs; returns a function that stops following changes. */
export function syncCustomResources(store: Store): () => void {
  let stopped = false;
  let stop = () => {};
  const served = new Set<string>();
  const follow = () => {
    if (stopped) return;
    const page = store.list(CRD_KEY, undefined);
    const present = new Set(page.items.map((c) => c.metadata.name as string));
    // After a snapshot install the store ends its watches: CRDs gone meanwhile stop here.
    for (const name of served) if (!present.has(name)) setCustomResources(name, []);
    served.clear();
    for (const crd of page.items) {
      serve(crd);
      served.add(crd.metadata.name);
    }
    stop = store.watch(
      {
        res: CRD_KEY,
        match: () => true,
        send: (type, crd) => {
          if (type === "DELETED") {
            setCustomResources(crd.metadata.name, []);
            served.delete(crd.metadata.name);
          } else {
            serve(crd);
            served.add(crd.metadata.name);
          }
        },
        close: () => queueMicrotask(follow),
      },
      page.rev,
    );
  };
  follow();
  return () => {
    stopped = true;
    stop();
  };
}
