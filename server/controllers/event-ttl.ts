// Events expire (Kubernetes' --event-ttl, default 1 h), so a busy cluster's database stays
// bounded. Each event is looked at when it changes and again when its TTL runs out.
import { Controller, type Runtime } from "./runtime/controller";
import { objKey, splitKey, type Informer } from "./runtime/informer";

function lastSeen(e: any): number {
  const t = e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
  const ms = t ? Date.parse(t) : NaN;
  return Number.isFinite(ms) ? ms : 0;
}

export class EventTtlController extends Controller {
  private events: Informer;

  constructor(rt: Runtime) {
    super(rt, "eventttl", 2);
    this.events = this.informer("events");
    this.events.addHandler({ add: (e) => this.queue.add(objKey(e)), update: (_, e) => this.queue.add(objKey(e)) });
  }

  async reconcile(key: string): Promise<void> {
    const e = this.events.get(key);
    if (!e) return;
    const left = lastSeen(e) + this.rt.opts.eventTtlMs - this.now();
    if (left > 0) {
      this.queue.addAfter(key, left);
      return;
    }
    const { ns, name } = splitKey(key);
    await this.api.delete("Event", ns, name, { preconditions: { uid: e.metadata.uid } });
  }
}
