// events.k8s.io/v1 Event: the same stored objects as core v1 Events (upstream keeps one storage
// for both), in the newer field names. Field numbers follow k8s.io/api/events/v1/generated.proto.
import { F, int32, microTime, obj, str, time } from "../dsl";
import type { ResourceDef } from "../registry";
import { EventSource } from "./core";
import { typeMetaFields } from "./meta";
import { ObjectReference } from "./pod";

export const EventsEventSeries = obj("io.k8s.api.events.v1.EventSeries", () => ({
  count: F(int32, 1, { required: true }),
  lastObservedTime: F(microTime, 2, { required: true }),
}));

export const EventsEvent = obj("io.k8s.api.events.v1.Event", () => ({
  ...typeMetaFields(),
  eventTime: F(microTime, 2),
  series: F(EventsEventSeries, 3),
  reportingController: F(str, 4),
  reportingInstance: F(str, 5),
  action: F(str, 6),
  reason: F(str, 7),
  regarding: F(ObjectReference, 8),
  related: F(ObjectReference, 9),
  note: F(str, 10),
  type: F(str, 11),
  deprecatedSource: F(EventSource, 12),
  deprecatedFirstTimestamp: F(time, 13),
  deprecatedLastTimestamp: F(time, 14),
  deprecatedCount: F(int32, 15),
}));

// [events.k8s.io name, core name]
const RENAMES: [string, string][] = [
  ["regarding", "involvedObject"],
  ["note", "message"],
  ["reportingController", "reportingComponent"],
  ["deprecatedSource", "source"],
  ["deprecatedFirstTimestamp", "firstTimestamp"],
  ["deprecatedLastTimestamp", "lastTimestamp"],
  ["deprecatedCount", "count"],
];
const SAME = ["eventTime", "series", "reportingInstance", "action", "reason", "related", "type"];

function move(from: any, to: any, pairs: [string, string][]): void {
  for (const [a, b] of pairs) if (from[a] !== undefined) to[b] = from[a];
  for (const k of SAME) if (from[k] !== undefined) to[k] = from[k];
}

/** A stored core v1 Event as events.k8s.io/v1. */
export function eventToEventsV1(o: any): any {
  const out: any = { apiVersion: "events.k8s.io/v1", kind: "Event", metadata: o.metadata };
  move(o, out, RENAMES.map(([a, b]) => [b, a]));
  // eventTime is required in events.k8s.io; core events written the old way have none.
  out.eventTime ??= null;
  if (out.series) out.series = { count: out.series.count, lastObservedTime: out.series.lastObservedTime };
  return out;
}

/** An events.k8s.io/v1 Event as the stored core v1 Event. */
export function eventFromEventsV1(o: any): any {
  const out: any = { apiVersion: "v1", kind: "Event", metadata: o.metadata };
  move(o, out, RENAMES);
  if (out.eventTime === null) delete out.eventTime;
  return out;
}

const s = (v: unknown) => (v === undefined || v === null ? "" : String(v));

export const resources: ResourceDef[] = [
  {
    group: "events.k8s.io",
    version: "v1",
    kind: "Event",
    plural: "events",
    singular: "event",
    namespaced: true,
    // No short names: upstream gives "ev" only to the core Event (kubectl warns of an ambiguous one).
    type: EventsEvent,
    // Upstream's field labels for this group, read from the stored core form.
    fieldSelectors: {
      "regarding.kind": (o) => s(o?.involvedObject?.kind),
      "regarding.namespace": (o) => s(o?.involvedObject?.namespace),
      "regarding.name": (o) => s(o?.involvedObject?.name),
      "regarding.uid": (o) => s(o?.involvedObject?.uid),
      "regarding.apiVersion": (o) => s(o?.involvedObject?.apiVersion),
      "regarding.resourceVersion": (o) => s(o?.involvedObject?.resourceVersion),
      "regarding.fieldPath": (o) => s(o?.involvedObject?.fieldPath),
      reason: (o) => s(o?.reason),
      reportingController: (o) => s(o?.reportingComponent),
      type: (o) => s(o?.type),
    },
    conversion: { storedGroup: "", storedVersion: "v1", toStored: eventFromEventsV1, fromStored: eventToEventsV1 },
  },
];
