// Pod scheduling constraints: node/pod (anti-)affinity and topology spread (core/v1).
import { F, atomicList, int32, obj, str } from "../dsl";
import { LabelSelector } from "./meta";
import { NodeSelector, NodeSelectorTerm, coreName as n } from "./pod-common";

export const PreferredSchedulingTerm = obj(n("PreferredSchedulingTerm"), () => ({
  weight: F(int32, 1, { required: true }),
  preference: F(NodeSelectorTerm, 2, { required: true }),
}));

export const NodeAffinity = obj(n("NodeAffinity"), () => ({
  requiredDuringSchedulingIgnoredDuringExecution: F(NodeSelector, 1),
  preferredDuringSchedulingIgnoredDuringExecution: F(atomicList(PreferredSchedulingTerm), 2),
}));

export const PodAffinityTerm = obj(n("PodAffinityTerm"), () => ({
  labelSelector: F(LabelSelector, 1),
  namespaces: F(atomicList(str), 2),
  topologyKey: F(str, 3, { required: true }),
  namespaceSelector: F(LabelSelector, 4),
  matchLabelKeys: F(atomicList(str), 5),
  mismatchLabelKeys: F(atomicList(str), 6),
}));

export const WeightedPodAffinityTerm = obj(n("WeightedPodAffinityTerm"), () => ({
  weight: F(int32, 1, { required: true }),
  podAffinityTerm: F(PodAffinityTerm, 2, { required: true }),
}));

export const PodAffinity = obj(n("PodAffinity"), () => ({
  requiredDuringSchedulingIgnoredDuringExecution: F(atomicList(PodAffinityTerm), 1),
  preferredDuringSchedulingIgnoredDuringExecution: F(atomicList(WeightedPodAffinityTerm), 2),
}));

export const PodAntiAffinity = obj(n("PodAntiAffinity"), () => ({
  requiredDuringSchedulingIgnoredDuringExecution: F(atomicList(PodAffinityTerm), 1),
  preferredDuringSchedulingIgnoredDuringExecution: F(atomicList(WeightedPodAffinityTerm), 2),
}));

export const Affinity = obj(n("Affinity"), () => ({
  nodeAffinity: F(NodeAffinity, 1),
  podAffinity: F(PodAffinity, 2),
  podAntiAffinity: F(PodAntiAffinity, 3),
}));

export const TopologySpreadConstraint = obj(n("TopologySpreadConstraint"), () => ({
  maxSkew: F(int32, 1, { required: true }),
  topologyKey: F(str, 2, { required: true }),
  whenUnsatisfiable: F(str, 3, { required: true }),
  labelSelector: F(LabelSelector, 4),
  minDomains: F(int32, 5),
  nodeAffinityPolicy: F(str, 6),
  nodeTaintsPolicy: F(str, 7),
  matchLabelKeys: F(atomicList(str), 8),
}));
