// Table columns for the apps API group, after printers.go.
import type { Column } from "../registry";
import { replicas } from "./core";
import {
  CONTAINERS_DESCRIPTION,
  IMAGES_DESCRIPTION,
  ageCol,
  col,
  controllerOf,
  formatLabels,
  groupOf,
  int,
  layoutContainers,
  nameCol,
  str,
} from "./format";
import { formatLabelSelector, labelSelectorString } from "../helpers/selectors";

const containersCol = (path: (o: any) => unknown, priority: 0 | 1 = 1): Column =>
  col("Containers", "string", CONTAINERS_DESCRIPTION, (o) => layoutContainers(path(o))[0], priority);
const imagesCol = (path: (o: any) => unknown, priority: 0 | 1 = 1): Column =>
  col("Images", "string", IMAGES_DESCRIPTION, (o) => layoutContainers(path(o))[1], priority);
const templateContainers = (o: any): unknown => o?.spec?.template?.spec?.containers;

const deploymentColumns: Column[] = [
  nameCol(),
  col("Ready", "string", "Number of the pod with ready state", (o) => `${int(o?.status?.readyReplicas)}/${replicas(o?.spec?.replicas)}`),
  col("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", (o) =>
    int(o?.status?.updatedReplicas),
  ),
  col(
    "Available",
    "string",
    "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
    (o) => int(o?.status?.availableReplicas),
  ),
  ageCol(),
  containersCol(templateContainers),
  imagesCol(templateContainers),
  col("Selector", "string", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.", (o) => {
    const s = labelSelectorString(o?.spec?.selector);
    return s === undefined ? "<invalid>" : s;
  }, 1),
];

const replicaSetColumns: Column[] = [
  nameCol(),
  col("Desired", "integer", "Replicas is the number of desired replicas.", (o) => replicas(o?.spec?.replicas)),
  col("Current", "integer", "Replicas is the most recently observed number of replicas.", (o) => int(o?.status?.replicas)),
  col("Ready", "integer", "The number of ready replicas for this replica set.", (o) => int(o?.status?.readyReplicas)),
  ageCol(),
  containersCol(templateContainers),
  imagesCol(templateContainers),
  col("Selector", "string", "Selector is a label query over pods that should match the replica count.", (o) => formatLabelSelector(o?.spec?.selector), 1),
];

const statefulSetColumns: Column[] = [
  nameCol(),
  col("Ready", "string", "Number of the pod with ready state", (o) => `${int(o?.status?.readyReplicas)}/${replicas(o?.spec?.replicas)}`),
  ageCol(),
  containersCol(templateContainers),
  imagesCol(templateContainers),
];

const daemonSetColumns: Column[] = [
  nameCol(),
  col("Desired", "integer", "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).", (o) =>
    int(o?.status?.desiredNumberScheduled),
  ),
  col("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.", (o) =>
    int(o?.status?.currentNumberScheduled),
  ),
  col("Ready", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.", (o) =>
    int(o?.status?.numberReady),
  ),
  col("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod", (o) => int(o?.status?.updatedNumberScheduled)),
  col(
    "Available",
    "integer",
    "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
    (o) => int(o?.status?.numberAvailable),
  ),
  col("Node Selector", "string", "NodeSelector is a selector which must be true for the pod to fit on a node.", (o) =>
    formatLabels(o?.spec?.template?.spec?.nodeSelector),
  ),
  ageCol(),
  containersCol(templateContainers),
  imagesCol(templateContainers),
  col("Selector", "string", "A label query over pods that are managed by the daemon set.", (o) => formatLabelSelector(o?.spec?.selector), 1),
];

function controllerName(o: any): string {
  const ref = controllerOf(o);
  if (!ref) return "<none>";
  const kind = str(ref.kind);
  const group = groupOf(ref.apiVersion);
  const name = str(ref.name);
  if (kind === "" && group === "") return name;
  const gk = group === "" ? kind : `${kind}.${group}`;
  return `${gk.toLowerCase()}/${name}`;
}

const controllerRevisionColumns: Column[] = [
  nameCol(),
  col("Controller", "string", "Controller of the object", (o) => controllerName(o)),
  col("Revision", "string", "Revision indicates the revision of the state represented by Data.", (o) => int(o?.revision)),
  ageCol(),
];

export const appsColumns: Record<string, Column[]> = {
  "apps/Deployment": deploymentColumns,
  "apps/ReplicaSet": replicaSetColumns,
  "apps/StatefulSet": statefulSetColumns,
  "apps/DaemonSet": daemonSetColumns,
  "apps/ControllerRevision": controllerRevisionColumns,
};
