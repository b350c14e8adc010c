// Containers: the spec side (Container, EphemeralContainer, probes, env, security context)
// and the status side (ContainerStatus). core/v1, field numbers from generated.proto.
import {
  F,
  atomicList,
  bool,
  int32,
  int64,
  intOrString,
  keyedList,
  list,
  map,
  obj,
  quantity,
  str,
  time,
  type Field,
} from "../dsl";
import {
  ObjectFieldSelector,
  ResourceFieldSelector,
  ResourceRequirements,
  coreName as n,
} from "./pod-common";

export const ContainerPort = obj(n("ContainerPort"), () => ({
  name: F(str, 1),
  hostPort: F(int32, 2),
  containerPort: F(int32, 3, { required: true }),
  protocol: F(str, 4),
  hostIP: F(str, 5),
}));

export const ConfigMapKeySelector = obj(n("ConfigMapKeySelector"), () => ({
  name: F(str), // inlined LocalObjectReference (pb 1.1)
  key: F(str, 2, { required: true }),
  optional: F(bool, 3),
}));

export const SecretKeySelector = obj(n("SecretKeySelector"), () => ({
  name: F(str), // inlined LocalObjectReference (pb 1.1)
  key: F(str, 2, { required: true }),
  optional: F(bool, 3),
}));

export const FileKeySelector = obj(n("FileKeySelector"), () => ({
  volumeName: F(str, 1, { required: true }),
  path: F(str, 2, { required: true }),
  key: F(str, 3, { required: true }),
  optional: F(bool, 4),
}));

export const EnvVarSource = obj(n("EnvVarSource"), () => ({
  fieldRef: F(ObjectFieldSelector, 1),
  resourceFieldRef: F(ResourceFieldSelector, 2),
  configMapKeyRef: F(ConfigMapKeySelector, 3),
  secretKeyRef: F(SecretKeySelector, 4),
  fileKeyRef: F(FileKeySelector, 5),
}));

export const EnvVar = obj(n("EnvVar"), () => ({
  name: F(str, 1, { required: true }),
  value: F(str, 2),
  valueFrom: F(EnvVarSource, 3),
}));

export const ConfigMapEnvSource = obj(n("ConfigMapEnvSource"), () => ({
  name: F(str), // inlined LocalObjectReference (pb 1.1)
  optional: F(bool, 2),
}));

export const SecretEnvSource = obj(n("SecretEnvSource"), () => ({
  name: F(str), // inlined LocalObjectReference (pb 1.1)
  optional: F(bool, 2),
}));

export const EnvFromSource = obj(n("EnvFromSource"), () => ({
  prefix: F(str, 1),
  configMapRef: F(ConfigMapEnvSource, 2),
  secretRef: F(SecretEnvSource, 3),
}));

export const VolumeMount = obj(n("VolumeMount"), () => ({
  name: F(str, 1, { required: true }),
  readOnly: F(bool, 2),
  recursiveReadOnly: F(str, 7),
  mountPath: F(str, 3, { required: true }),
  subPath: F(str, 4),
  mountPropagation: F(str, 5),
  subPathExpr: F(str, 6),
}));

export const VolumeDevice = obj(n("VolumeDevice"), () => ({
  name: F(str, 1, { required: true }),
  devicePath: F(str, 2, { required: true }),
}));

export const ExecAction = obj(n("ExecAction"), () => ({
  command: F(atomicList(str), 1),
}));

export const HTTPHeader = obj(n("HTTPHeader"), () => ({
  name: F(str, 1, { required: true }),
  value: F(str, 2, { required: true }),
}));

export const HTTPGetAction = obj(n("HTTPGetAction"), () => ({
  path: F(str, 1),
  port: F(intOrString, 2, { required: true }),
  host: F(str, 3),
  scheme: F(str, 4),
  httpHeaders: F(atomicList(HTTPHeader), 5),
}));

export const TCPSocketAction = obj(n("TCPSocketAction"), () => ({
  port: F(intOrString, 1, { required: true }),
  host: F(str, 2),
}));

export const GRPCAction = obj(n("GRPCAction"), () => ({
  port: F(int32, 1, { required: true }),
  service: F(str, 2),
}));

export const SleepAction = obj(n("SleepAction"), () => ({
  seconds: F(int64, 1, { required: true }),
}));

/** ProbeHandler's fields; Probe inlines them (pb: Probe.handler = 1). */
const probeHandlerFields = (pb: boolean): Record<string, Field> => ({
  exec: F(ExecAction, pb ? 1 : undefined),
  httpGet: F(HTTPGetAction, pb ? 2 : undefined),
  tcpSocket: F(TCPSocketAction, pb ? 3 : undefined),
  grpc: F(GRPCAction, pb ? 4 : undefined),
});

export const ProbeHandler = obj(n("ProbeHandler"), () => probeHandlerFields(true));

export const Probe = obj(n("Probe"), () => ({
  ...probeHandlerFields(false),
  initialDelaySeconds: F(int32, 2),
  timeoutSeconds: F(int32, 3),
  periodSeconds: F(int32, 4),
  successThreshold: F(int32, 5),
  failureThreshold: F(int32, 6),
  terminationGracePeriodSeconds: F(int64, 7),
}));

export const LifecycleHandler = obj(n("LifecycleHandler"), () => ({
  exec: F(ExecAction, 1),
  httpGet: F(HTTPGetAction, 2),
  tcpSocket: F(TCPSocketAction, 3),
  sleep: F(SleepAction, 4),
}));

export const Lifecycle = obj(n("Lifecycle"), () => ({
  postStart: F(LifecycleHandler, 1),
  preStop: F(LifecycleHandler, 2),
  stopSignal: F(str, 3),
}));

export const Capabilities = obj(n("Capabilities"), () => ({
  add: F(atomicList(str), 1),
  drop: F(atomicList(str), 2),
}));

export const SELinuxOptions = obj(n("SELinuxOptions"), () => ({
  user: F(str, 1),
  role: F(str, 2),
  type: F(str, 3),
  level: F(str, 4),
}));

export const WindowsSecurityContextOptions = obj(n("WindowsSecurityContextOptions"), () => ({
  gmsaCredentialSpecName: F(str, 1),
  gmsaCredentialSpec: F(str, 2),
  runAsUserName: F(str, 3),
  hostProcess: F(bool, 4),
}));

export const SeccompProfile = obj(n("SeccompProfile"), () => ({
  type: F(str, 1, { required: true }),
  localhostProfile: F(str, 2),
}));

export const AppArmorProfile = obj(n("AppArmorProfile"), () => ({
  type: F(str, 1, { required: true }),
  localhostProfile: F(str, 2),
}));

export const Ulimit = obj(n("Ulimit"), () => ({
  name: F(str, 1, { required: true }),
  hard: F(int64, 2, { required: true }),
  soft: F(int64, 3, { required: true }),
}));

export const SecurityContext = obj(n("SecurityContext"), () => ({
  capabilities: F(Capabilities, 1),
  privileged: F(bool, 2),
  seLinuxOptions: F(SELinuxOptions, 3),
  windowsOptions: F(WindowsSecurityContextOptions, 10),
  runAsUser: F(int64, 4),
  runAsGroup: F(int64, 8),
  runAsNonRoot: F(bool, 5),
  readOnlyRootFilesystem: F(bool, 6),
  allowPrivilegeEscalation: F(bool, 7),
  procMount: F(str, 9),
  seccompProfile: F(SeccompProfile, 11),
  appArmorProfile: F(AppArmorProfile, 12),
  ulimits: F(list(Ulimit, { listType: "map", listMapKeys: ["name"] }), 13),
}));

export const ContainerResizePolicy = obj(n("ContainerResizePolicy"), () => ({
  resourceName: F(str, 1, { required: true }),
  restartPolicy: F(str, 2, { required: true }),
}));

export const ContainerRestartRuleOnExitCodes = obj(n("ContainerRestartRuleOnExitCodes"), () => ({
  operator: F(str, 1, { required: true }),
  values: F(list(int32, { listType: "set" }), 2),
}));

export const ContainerRestartRule = obj(n("ContainerRestartRule"), () => ({
  action: F(str, 1, { required: true }),
  exitCodes: F(ContainerRestartRuleOnExitCodes, 2),
}));

/** The fields of Container (= EphemeralContainerCommon); pb=false for the inlined copy in EphemeralContainer. */
function containerFields(pb: boolean): Record<string, Field> {
  const p = (x: number) => (pb ? x : undefined);
  return {
    name: F(str, p(1), { required: true }),
    image: F(str, p(2)),
    command: F(atomicList(str), p(3)),
    args: F(atomicList(str), p(4)),
    workingDir: F(str, p(5)),
    ports: F(
      list(ContainerPort, {
        patchStrategy: "merge",
        patchMergeKey: "containerPort",
        listType: "map",
        listMapKeys: ["containerPort", "protocol"],
      }),
      p(6),
    ),
    envFrom: F(atomicList(EnvFromSource), p(19)),
    env: F(keyedList(EnvVar, "name"), p(7)),
    resources: F(ResourceRequirements, p(8)),
    resizePolicy: F(atomicList(ContainerResizePolicy), p(23)),
    restartPolicy: F(str, p(24)),
    restartPolicyRules: F(atomicList(ContainerRestartRule), p(25)),
    volumeMounts: F(keyedList(VolumeMount, "mountPath"), p(9)),
    volumeDevices: F(keyedList(VolumeDevice, "devicePath"), p(21)),
    livenessProbe: F(Probe, p(10)),
    readinessProbe: F(Probe, p(11)),
    startupProbe: F(Probe, p(22)),
    lifecycle: F(Lifecycle, p(12)),
    terminationMessagePath: F(str, p(13)),
    terminationMessagePolicy: F(str, p(20)),
    imagePullPolicy: F(str, p(14)),
    securityContext: F(SecurityContext, p(15)),
    stdin: F(bool, p(16)),
    stdinOnce: F(bool, p(17)),
    tty: F(bool, p(18)),
  };
}

export const Container = obj(n("Container"), () => containerFields(true));

export const EphemeralContainerCommon = obj(n("EphemeralContainerCommon"), () => containerFields(true));

export const EphemeralContainer = obj(n("EphemeralContainer"), () => ({
  ...containerFields(false),
  targetContainerName: F(str, 2),
}));

// ---- status ------------------------------------------------------------------------------

export const ContainerStateWaiting = obj(n("ContainerStateWaiting"), () => ({
  reason: F(str, 1),
  message: F(str, 2),
}));

export const ContainerStateRunning = obj(n("ContainerStateRunning"), () => ({
  startedAt: F(time, 1),
}));

export const ContainerStateTerminated = obj(n("ContainerStateTerminated"), () => ({
  exitCode: F(int32, 1, { required: true }),
  signal: F(int32, 2),
  reason: F(str, 3),
  message: F(str, 4),
  startedAt: F(time, 5),
  finishedAt: F(time, 6),
  containerID: F(str, 7),
}));

export const ContainerState = obj(n("ContainerState"), () => ({
  waiting: F(ContainerStateWaiting, 1),
  running: F(ContainerStateRunning, 2),
  terminated: F(ContainerStateTerminated, 3),
}));

export const ImageVolumeStatus = obj(n("ImageVolumeStatus"), () => ({
  imageRef: F(str, 1, { required: true }),
}));

export const VolumeStatus = obj(n("VolumeStatus"), () => ({
  image: F(ImageVolumeStatus, 1),
}));

export const VolumeMountStatus = obj(n("VolumeMountStatus"), () => ({
  name: F(str, 1, { required: true }),
  mountPath: F(str, 2, { required: true }),
  readOnly: F(bool, 3),
  recursiveReadOnly: F(str, 4),
  volumeStatus: F(VolumeStatus, 5),
}));

export const LinuxContainerUser = obj(n("LinuxContainerUser"), () => ({
  uid: F(int64, 1, { required: true }),
  gid: F(int64, 2, { required: true }),
  supplementalGroups: F(atomicList(int64), 3),
}));

export const ContainerUser = obj(n("ContainerUser"), () => ({
  linux: F(LinuxContainerUser, 1),
}));

export const ResourceHealth = obj(n("ResourceHealth"), () => ({
  resourceID: F(str, 1, { required: true }),
  health: F(str, 2),
  message: F(str, 6),
}));

export const ResourceStatus = obj(n("ResourceStatus"), () => ({
  name: F(str, 1, { required: true }),
  resources: F(list(ResourceHealth, { listType: "map", listMapKeys: ["resourceID"] }), 2),
}));

export const ContainerStatus = obj(n("ContainerStatus"), () => ({
  name: F(str, 1, { required: true }),
  state: F(ContainerState, 2),
  lastState: F(ContainerState, 3),
  ready: F(bool, 4, { required: true }),
  restartCount: F(int32, 5, { required: true }),
  image: F(str, 6, { required: true }),
  imageID: F(str, 7, { required: true }),
  containerID: F(str, 8),
  started: F(bool, 9),
  allocatedResources: F(map(quantity), 10),
  resources: F(ResourceRequirements, 11),
  volumeMounts: F(keyedList(VolumeMountStatus, "mountPath"), 12),
  user: F(ContainerUser, 13),
  allocatedResourcesStatus: F(keyedList(ResourceStatus, "name"), 14),
  stopSignal: F(str, 15),
}));
