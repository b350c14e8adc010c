// Table columns for the batch API group (Job, CronJob), after printers.go.
import type { Column } from "../registry";
import {
  CONTAINERS_DESCRIPTION,
  IMAGES_DESCRIPTION,
  ageCol,
  arr,
  boolPtr,
  col,
  deleting,
  int,
  layoutContainers,
  nameCol,
  parseTime,
  since,
  str,
} from "./format";
import { isObj } from "../helpers/json";
import { humanDuration } from "../helpers/duration";
import { formatLabelSelector } from "../helpers/selectors";

/** hasJobCondition: the first condition of the type decides. */
function hasJobCondition(conditions: unknown, type: string): boolean {
  for (const c of arr(conditions)) {
    if (isObj(c) && c.type === type) return c.status === "True";
  }
  return false;
}

export function jobStatus(o: any): string {
  const conditions = o?.status?.conditions;
  if (hasJobCondition(conditions, "Complete")) return "Complete";
  if (hasJobCondition(conditions, "Failed")) return "Failed";
  if (deleting(o)) return "Terminating";
  if (hasJobCondition(conditions, "Suspended")) return "Suspended";
  if (hasJobCondition(conditions, "FailureTarget")) return "FailureTarget";
  return "Running";
}

export function jobCompletions(o: any): string {
  const succeeded = int(o?.status?.succeeded);
  const completions = o?.spec?.completions;
  if (completions !== undefined && completions !== null) return `${succeeded}/${int(completions)}`;
  const parallelism = int(o?.spec?.parallelism);
  return parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
}

export function jobDuration(o: any, now: number): string {
  const start = parseTime(o?.status?.startTime);
  if (start === undefined) return "";
  const end = parseTime(o?.status?.completionTime);
  return humanDuration((end === undefined ? now : end) - start);
}

const jobColumns: Column[] = [
  nameCol(),
  col("Status", "string", "Status of the job.", (o) => jobStatus(o)),
  col("Completions", "string", "The number of pods which reached phase Succeeded.", (o) => jobCompletions(o)),
  col("Duration", "string", "Time required to complete the job.", (o, now) => jobDuration(o, now)),
  ageCol(),
  col("Containers", "string", CONTAINERS_DESCRIPTION, (o) => layoutContainers(o?.spec?.template?.spec?.containers)[0], 1),
  col("Images", "string", IMAGES_DESCRIPTION, (o) => layoutContainers(o?.spec?.template?.spec?.containers)[1], 1),
  col("Selector", "string", "A label query over pods that should match the pod count.", (o) => formatLabelSelector(o?.spec?.selector), 1),
];

const jobTemplateContainers = (o: any): unknown => o?.spec?.jobTemplate?.spec?.template?.spec?.containers;

const cronJobColumns: Column[] = [
  nameCol(),
  col("Schedule", "string", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.", (o) => str(o?.spec?.schedule)),
  col("Timezone", "string", "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.", (o) => {
    const tz = o?.spec?.timeZone;
    return tz === undefined || tz === null ? "<none>" : str(tz);
  }),
  col("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.", (o) =>
    boolPtr(o?.spec?.suspend),
  ),
  col("Active", "integer", "A list of pointers to currently running jobs.", (o) => arr(o?.status?.active).length),
  col("Last Schedule", "string", "Information when was the last time the job was successfully scheduled.", (o, now) => {
    const t = o?.status?.lastScheduleTime;
    return t === undefined || t === null ? "<none>" : since(t, now);
  }),
  ageCol(),
  col("Containers", "string", CONTAINERS_DESCRIPTION, (o) => layoutContainers(jobTemplateContainers(o))[0], 1),
  col("Images", "string", IMAGES_DESCRIPTION, (o) => layoutContainers(jobTemplateContainers(o))[1], 1),
  col("Selector", "string", "A label query over pods that should match the pod count.", (o) => formatLabelSelector(o?.spec?.jobTemplate?.spec?.selector), 1),
];

export const batchColumns: Record<string, Column[]> = {
  "batch/Job": jobColumns,
  "batch/CronJob": cronJobColumns,
};
