// A raw Kubernetes watch over HTTP (newline-delimited JSON events), for tests that need to
// see exactly what the server sends.
import type { SkiffServer } from "./server";

export interface WatchEvent {
  type: string;
  object: any;
}

export interface RawWatch {
  /** HTTP status of the watch response (rejects if the connection failed). */
  status: Promise<number>;
  /** Body text when the status was not 200. */
  errorBody: Promise<string>;
  events: WatchEvent[];
  /** Resolves when the stream ends (server closed it, connection died, or close()). */
  ended: Promise<void>;
  isEnded(): boolean;
  /** Lines that did not parse as JSON (should stay empty). */
  garbage: string[];
  close(): void;
  /** Wait for an event matching pred (searching from index `from`); returns its index. */
  waitFor(pred: (e: WatchEvent) => boolean, ms: number, from?: number): Promise<number>;
}

export function openWatch(srv: SkiffServer, path: string): RawWatch {
  const ctrl = new AbortController();
  const events: WatchEvent[] = [];
  const garbage: string[] = [];
  let ended = false;
  let resolveStatus!: (n: number) => void;
  let rejectStatus!: (e: unknown) => void;
  let resolveErr!: (s: string) => void;
  const status = new Promise<number>((r, j) => {
    resolveStatus = r;
    rejectStatus = j;
  });
  const errorBody = new Promise<string>((r) => (resolveErr = r));
  status.catch(() => {});
  const endedP = (async () => {
    try {
      const res = await srv.fetch(path, { signal: ctrl.signal });
      resolveStatus(res.status);
      if (res.status !== 200) {
        resolveErr(await res.text());
        return;
      }
      resolveErr("");
      const dec = new TextDecoder();
      let buf = "";
      for await (const chunk of res.body as ReadableStream<Uint8Array>) {
        buf += dec.decode(chunk, { stream: true });
        let i: number;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (!line) continue;
          try {
            events.push(JSON.parse(line));
          } catch {
            garbage.push(line);
          }
        }
      }
    } catch (e) {
      rejectStatus(e);
      resolveErr("");
    } finally {
      ended = true;
    }
  })();
  return {
    status,
    errorBody,
    events,
    ended: endedP,
    isEnded: () => ended,
    garbage,
    close: () => ctrl.abort(),
    async waitFor(pred, ms, from = 0) {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        for (let i = from; i < events.length; i++) if (pred(events[i]!)) return i;
        if (ended) break;
        await Bun.sleep(20);
      }
      for (let i = from; i < events.length; i++) if (pred(events[i]!)) return i;
      throw new Error(
        `watch ${path}: expected event not seen within ${ms} ms (stream ${ended ? "ended" : "open"}); ` +
          `${events.length} events, last: ${JSON.stringify(events.slice(-3)).slice(0, 1500)}`,
      );
    },
  };
}
