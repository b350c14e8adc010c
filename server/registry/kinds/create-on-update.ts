// Kinds that a PUT may create (upstream AllowCreateOnUpdate): endpoints, events, leases and
// endpoint slices, which their writers replace whole whether or not they exist yet.
import type { Strategy } from "../strategy";

export const createOnUpdateStrategy: Strategy = { allowCreateOnUpdate: true };
