// GET /api/v1/namespaces/NS/pods/NAME/log: the agent reads the CRI log file and the bytes come
// back over the node's tunnel as a chunked text/plain body (kept open with follow=true).
import type { LogRequest } from "../../../lib/wsstream/tunnel";
import { badRequest } from "../../errors";
import { containerFacts, getPod, goBoolParam, intParam, nodeOf, pickContainer } from "./pods";
import type { StreamDeps } from "./index";

export function buildLogRequest(pod: any, q: URLSearchParams): LogRequest {
  const container = pickContainer(pod, q.get("container"));
  const previous = goBoolParam(q, "previous");
  const sinceSeconds = intParam(q, "sinceSeconds", 1);
  let sinceTime = q.get("sinceTime") || undefined;
  if (sinceSeconds !== undefined && sinceTime) throw badRequest("PodLogOptions \"\" is invalid: sinceSeconds: Forbidden: at most one of sinceTime or sinceSeconds may be specified");
  if (sinceTime && (!/^\d{4}-\d\d-\d\dT/.test(sinceTime) || Number.isNaN(Date.parse(sinceTime))))
    throw badRequest(`sinceTime: Invalid value: ${JSON.stringify(sinceTime.slice(0, 50))}: must be RFC 3339`);
  // Further back than the epoch is all of the log.
  if (sinceSeconds !== undefined) sinceTime = new Date(Math.max(0, Date.now() - sinceSeconds * 1000)).toISOString();
  const facts = containerFacts(pod, container);
  if (previous && !facts.hasLastState && facts.restartCount === 0)
    throw badRequest(`previous terminated container "${container}" in pod "${pod.metadata.name}" not found`);
  if (!previous && !facts.containerId && facts.waitingReason)
    throw badRequest(`container "${container}" in pod "${pod.metadata.name}" is waiting to start: ${facts.waitingReason}`);
  return {
    kind: "log",
    namespace: pod.metadata.namespace,
    pod: pod.metadata.name,
    uid: pod.metadata.uid,
    container,
    containerId: previous ? facts.lastTerminatedId : facts.containerId,
    restartCount: facts.restartCount,
    previous,
    follow: goBoolParam(q, "follow"),
    tailLines: intParam(q, "tailLines", 0),
    sinceTime,
    timestamps: goBoolParam(q, "timestamps"),
    limitBytes: intParam(q, "limitBytes", 1),
  };
}

export async function handleLog(deps: StreamDeps, ns: string, name: string, url: URL): Promise<Response> {
  const pod = await getPod(deps.getPod, ns, name);
  const req = buildLogRequest(pod, url.searchParams);
  const node = nodeOf(pod);
  const stream = await deps.tunnels.open(node, req);
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      stream.on({
        data: (b) => {
          if (!cancelled) controller.enqueue(b);
        },
        end: () => {
          if (!cancelled) controller.close();
          stream.end();
        },
        reset: () => {
          // The node went away mid-stream: end the body (kubectl prints what it got).
          if (!cancelled) controller.close();
        },
      });
    },
    cancel() {
      cancelled = true;
      stream.reset("client went away");
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/plain", "Cache-Control": "no-cache, private" } });
}
