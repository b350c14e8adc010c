// Small DSL types for the patch tests (independent of the real kinds in schemas/types).
import { F, int32, keyedList, list, map, obj, setList, str, type ObjTy } from "../../schemas/dsl";

export const Port = obj("test.Port", () => ({ containerPort: F(int32), protocol: F(str), name: F(str) }));
export const Env = obj("test.Env", () => ({ name: F(str), value: F(str) }));
export const Container = obj("test.Container", () => ({
  name: F(str),
  image: F(str),
  args: F(list(str, { listType: "atomic" })),
  ports: F(list(Port, { patchStrategy: "merge", patchMergeKey: "containerPort", listType: "map", listMapKeys: ["containerPort", "protocol"] })),
  env: F(keyedList(Env, "name")),
}));
export const HostPath = obj("test.HostPath", () => ({ path: F(str) }));
export const EmptyDir = obj("test.EmptyDir", () => ({ medium: F(str) }));
export const Volume = obj("test.Volume", () => ({
  name: F(str),
  hostPath: F(HostPath, undefined, { patchStrategy: "retainKeys" }),
  emptyDir: F(EmptyDir, undefined, { patchStrategy: "retainKeys" }),
}));
export const Strategy = obj("test.Strategy", () => ({ type: F(str), rollingUpdate: F(obj("test.RU", () => ({ maxSurge: F(str) }))) }));
export const PodSpec = obj("test.PodSpec", () => ({
  containers: F(keyedList(Container, "name")),
  volumes: F(list(Volume, { patchStrategy: "merge,retainKeys", patchMergeKey: "name", listType: "map", listMapKeys: ["name"] })),
  nodeSelector: F(map(str)),
  strategy: F(Strategy, undefined, { patchStrategy: "retainKeys" }),
}));
export const Meta = obj("test.Meta", () => ({
  name: F(str),
  namespace: F(str),
  uid: F(str),
  resourceVersion: F(str),
  labels: F(map(str)),
  annotations: F(map(str)),
  finalizers: F(setList(str)),
  managedFields: F(list(obj("test.MF", () => ({})))),
}));
export const Pod: ObjTy = obj("test.Pod", () => ({
  apiVersion: F(str),
  kind: F(str),
  metadata: F(Meta),
  spec: F(PodSpec),
  status: F(obj("test.PodStatus", () => ({ phase: F(str) }))),
}));
export const Deploy: ObjTy = obj("test.Deploy", () => ({
  apiVersion: F(str),
  kind: F(str),
  metadata: F(Meta),
  spec: F(
    obj("test.DeploySpec", () => ({
      replicas: F(int32),
      template: F(obj("test.Template", () => ({ metadata: F(Meta), spec: F(PodSpec) }))),
    })),
  ),
}));
