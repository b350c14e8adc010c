// Where audit events go: upstream's batch backend over the log backend. A request only puts its
// event in a bounded in-memory queue (never waits for the disk); a single writer takes batches
// off it and appends them as JSON lines. When the queue is full (the disk or stdout is slower
// than the API) the event is dropped and counted in apiserver_audit_error_total{plugin="log"},
// as upstream's non-blocking batch mode does.
import { Counter } from "prom-client";
import { metricsRegistry } from "../metrics/apiserver";

export interface AuditSink {
  write(chunk: string): Promise<void>;
  close(): Promise<void>;
}

export interface BatchOptions {
  /** Events held in memory at most (upstream --audit-log-batch-buffer-size, 10000). */
  bufferSize: number;
  /** Events per write at most (upstream --audit-log-batch-max-size is 400 too). */
  batchMaxSize: number;
  /** How long the first queued event waits for more before a write. */
  batchMaxWaitMs: number;
}

const eventTotal = new Counter({ name: "apiserver_audit_event_total", help: "Counter of audit events generated and sent to the audit backend.", registers: [metricsRegistry] });
const errorTotal = new Counter({
  name: "apiserver_audit_error_total",
  help: "Counter of audit events that failed to be audited properly. Plugin identifies the plugin affected by the error.",
  labelNames: ["plugin"],
  registers: [metricsRegistry],
});

export class BatchBackend {
  private queue: string[] = [];
  private writing?: Promise<void>;
  private timer?: ReturnType<typeof setTimeout>;
  private closed = false;
  private reported = false;
  private readonly o: BatchOptions;
  /** Counters of this backend (the metrics add up every backend of the process). */
  readonly stats = { queued: 0, dropped: 0, written: 0, failed: 0 };

  constructor(
    private readonly sink: AuditSink,
    o: Partial<BatchOptions> = {},
  ) {
    this.o = { bufferSize: 10_000, batchMaxSize: 400, batchMaxWaitMs: 100, ...o };
  }

  /** Queue one event; returns at once. false when it was dropped (queue full or closed). */
  process(event: object): boolean {
    if (this.closed || this.queue.length >= this.o.bufferSize) {
      this.stats.dropped++;
      errorTotal.inc({ plugin: "log" });
      return false;
    }
    this.queue.push(JSON.stringify(event));
    this.stats.queued++;
    eventTotal.inc();
    if (this.queue.length >= this.o.batchMaxSize) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.o.batchMaxWaitMs);
    return true;
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.writing ??= this.drain().finally(() => (this.writing = undefined));
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.o.batchMaxSize);
      try {
        await this.sink.write(batch.join("\n") + "\n");
        this.stats.written += batch.length;
      } catch (e) {
        this.stats.failed += batch.length;
        errorTotal.inc({ plugin: "log" }, batch.length);
        // Once per backend: a full disk would otherwise print a line per batch.
        if (!this.reported) console.error(`audit: cannot write the audit log: ${(e as Error).message} (events are dropped and counted in apiserver_audit_error_total)`);
        this.reported = true;
      }
    }
  }

  /** Write what is queued, then close the sink (server shutdown). */
  async shutdown(): Promise<void> {
    this.closed = true;
    this.kick();
    await this.writing;
    await this.sink.close();
  }
}
