// prom-client's parts the server uses, loaded one by one: the package index also loads its
// cluster aggregator (node:cluster), Pushgateway (node:http, node:https), Summary and the bucket
// helpers at start, ~0.9 MB of heap an idle server never touches (idle RSS target, issue 15).
// The parts are prom-client's own modules, so metrics and registries behave as through the index.
import type * as Prom from "prom-client";

export const Registry = require("prom-client/lib/registry") as typeof Prom.Registry;
export type Registry = Prom.Registry;
export const Counter = require("prom-client/lib/counter") as typeof Prom.Counter;
export type Counter<T extends string = string> = Prom.Counter<T>;
export const Gauge = require("prom-client/lib/gauge") as typeof Prom.Gauge;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export const Histogram = require("prom-client/lib/histogram") as typeof Prom.Histogram;
export type Histogram<T extends string = string> = Prom.Histogram<T>;
export const collectDefaultMetrics = require("prom-client/lib/defaultMetrics") as typeof Prom.collectDefaultMetrics;
