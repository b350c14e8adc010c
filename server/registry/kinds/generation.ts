// Kinds whose strategy keeps metadata.generation (workloads, ingresses, policies): 1 on create,
// +1 on every change outside metadata and status, so controllers report observedGeneration.
import type { Strategy } from "../strategy";

export const generationStrategy: Strategy = { tracksGeneration: true };
