// Events expire (Kubernetes' --event-ttl, default 1 h), so a busy cluster's database stays
// bounded. As upstream, where each write of an event renews its etcd lease, the TTL counts from
// the event's last write, whatever times its fields claim: here from when this controller saw
// that write (after a leader change, from when the new leader first listed it).
import { Controller, type ControllerContext } from "./runtime/controller";
import { objKey, splitKey, type Informer } from "./runtime/informer";

export class EventTtlController extends Controller {
  private events: Informer;
  /** Local time each event's current version was first seen. */
  private written = new Map<string, { rv: string; at: number }>();

  constructor(rt: ControllerContext) {
    super(rt, "eventttl", 2);
    this.events = this.informer("events");
    this.events.addHandler({ add: (e) => this.queue.add(objKey(e)), update: (_, e) => this.queue.add(objKey(e)), delete: (e) => this.written.delete(objKey(e)) });
  }

  async reconcile(key: string): Promise<void> {
    const e = this.events.get(key);
    if (!e) return;
    const seen = this.written.get(key);
    const w = seen && seen.rv === e.metadata.resourceVersion ? seen : { rv: e.metadata.resourceVersion, at: this.now() };
    this.written.set(key, w);
    const left = w.at + this.rt.opts.eventTtlMs - this.now();
    if (left > 0) {
      this.queue.addAfter(key, left);
      return;
    }
    const { ns, name } = splitKey(key);
    await this.api.delete("Event", ns, name, { preconditions: { uid: e.metadata.uid } });
  }
}
