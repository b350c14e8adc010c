// Watch streams: newline-delimited JSON events, from the store's window, with bookmarks.
import type { RegisteredResource } from "../../schemas/registry";
import { ExpiredError, type Store } from "../store/store";
import { badRequest, expired, statusObject } from "../errors";
import { tableRow, columnDefinitions, type IncludeObject } from "./table";

interface WatchParams {
  r: RegisteredResource;
  res: string;
  ns?: string;
  match: (o: any) => boolean;
  /** undefined / "" / "0": send the current state as ADDED first. */
  resourceVersion?: string;
  bookmarks: boolean;
  timeoutSeconds?: number;
  format: "json" | "table";
  include: IncludeObject;
  sendInitialEvents?: boolean;
  /** Stored object → the version the client watches (kinds served in several versions). */
  convert?: (o: any) => any;
}

const enc = new TextEncoder();

function maxTimeout(): number {
  const env = Number(process.env.SKIFF_WATCH_TIMEOUT_MAX_SECONDS);
  return env > 0 ? env : 1800;
}

export function serveWatch(store: Store, p: WatchParams, signal: AbortSignal): Response {
  // Like the watch cache, refuse a too-old or malformed resourceVersion before streaming.
  const rv = p.resourceVersion;
  if (rv && rv !== "0" && !p.sendInitialEvents) {
    const from = Number(rv);
    if (!Number.isInteger(from) || from < 0) throw badRequest(`invalid resourceVersion "${rv}": must be a non-negative integer`);
    if (!store.window.since(from)) throw expired(`too old resource version: ${from} (${store.window.floor})`);
  }
  let cleanup = () => {};
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      let closed = false;
      let lastRev = store.rev;
      let firstTable = true;
      let queued = 0;
      const close = () => {
        if (closed) return;
        closed = true;
        cleanup();
        try {
          controller.close();
        } catch {}
      };
      const write = (type: string, obj: any) => {
        if (closed) return;
        let out = obj;
        if (p.format === "table" && type !== "ERROR" && type !== "BOOKMARK") {
          out = { kind: "Table", apiVersion: "meta.k8s.io/v1", metadata: { resourceVersion: obj?.metadata?.resourceVersion ?? "" }, columnDefinitions: firstTable ? columnDefinitions(p.r) : null, rows: [tableRow(p.r, obj, p.include, Date.now())] };
          firstTable = false;
        } else if (p.convert && (type === "ADDED" || type === "MODIFIED" || type === "DELETED")) out = p.convert(obj);
        const line = enc.encode(`${JSON.stringify({ type, object: out })}\n`);
        queued += line.byteLength;
        // A client that stops reading is cut off rather than buffered without bound.
        if ((controller.desiredSize ?? 0) < -64 * 1024 * 1024) {
          close();
          return;
        }
        controller.enqueue(line);
      };
      // Bun sends response headers with the first body bytes; a quiet watch must still tell the
      // client it started (informers wait for the headers). One space, not a newline: JSON
      // decoders skip it before the first event, while the Python client turns an empty line
      // into a None event that its callers crash on.
      controller.enqueue(enc.encode(" "));
      const bookmark = () => write("BOOKMARK", { kind: p.r.kind, apiVersion: p.r.apiVersion, metadata: { resourceVersion: String(lastRev) } });
      const rv = p.resourceVersion;
      let from: number;
      let unsubscribe = () => {};
      try {
        if (!rv || rv === "0" || p.sendInitialEvents) {
          const page = store.list(p.res, p.ns, { match: p.match });
          for (const o of page.items) write("ADDED", o);
          from = page.rev;
          lastRev = from;
          if (p.sendInitialEvents && p.bookmarks)
            write("BOOKMARK", { kind: p.r.kind, apiVersion: p.r.apiVersion, metadata: { resourceVersion: String(from), annotations: { "k8s.io/initial-events-end": "true" } } });
        } else {
          from = Number(rv);
          if (!Number.isInteger(from) || from < 0) {
            write("ERROR", statusObject(400, "BadRequest", `invalid resourceVersion "${rv}": must be a non-negative integer`));
            close();
            return;
          }
          lastRev = from;
        }
        unsubscribe = store.watch(
          {
            res: p.res,
            ns: p.ns,
            match: p.match,
            send: (type, obj, rev) => {
              lastRev = rev;
              write(type, obj);
            },
            close: () => close(),
          },
          from,
        );
      } catch (e) {
        if (e instanceof ExpiredError) {
          write("ERROR", statusObject(410, "Expired", `too old resource version: ${e.requested} (${e.oldest})`));
          close();
          return;
        }
        throw e;
      }
      const timers: ReturnType<typeof setTimeout>[] = [];
      const limit = Math.min(p.timeoutSeconds && p.timeoutSeconds > 0 ? p.timeoutSeconds : maxTimeout() * (0.5 + Math.random() * 0.5), maxTimeout());
      timers.push(setTimeout(() => {
        if (p.bookmarks) bookmark();
        close();
      }, limit * 1000));
      if (p.bookmarks) {
        let sentAt = lastRev;
        const iv = setInterval(() => {
          lastRev = Math.max(lastRev, store.rev);
          if (lastRev !== sentAt) {
            sentAt = lastRev;
            bookmark();
          }
        }, 15_000);
        timers.push(iv as unknown as ReturnType<typeof setTimeout>);
      }
      const onAbort = () => close();
      signal.addEventListener("abort", onAbort);
      cleanup = () => {
        unsubscribe();
        for (const t of timers) clearTimeout(t);
        signal.removeEventListener("abort", onAbort);
      };
      void queued;
    },
    cancel() {
      cleanup();
    },
  });
  return new Response(stream, {
    status: 200,
    headers: { "Content-Type": "application/json", "Transfer-Encoding": "chunked", "Cache-Control": "no-cache, private" },
  });
}
