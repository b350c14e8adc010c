// Table columns for rbac.authorization.k8s.io. Role and ClusterRole have no printer upstream and
// use the default convertor (NAME, CREATED AT); the bindings follow printRoleBinding.
import type { Column } from "../registry";
import { ageCol, arr, col, defaultColumns, nameCol, obj, str } from "./format";

/** rbac.SubjectsStrings: users, groups, service accounts ("ns/name") and others. */
export function subjectsStrings(subjects: unknown): { users: string[]; groups: string[]; sas: string[]; others: string[] } {
  const users: string[] = [];
  const groups: string[] = [];
  const sas: string[] = [];
  const others: string[] = [];
  for (const s of arr(subjects)) {
    const subject = obj(s);
    switch (subject.kind) {
      case "ServiceAccount":
        sas.push(`${str(subject.namespace)}/${str(subject.name)}`);
        break;
      case "User":
        users.push(str(subject.name));
        break;
      case "Group":
        groups.push(str(subject.name));
        break;
      default:
        others.push(`${str(subject.kind)}/${str(subject.namespace)}/${str(subject.name)}`);
    }
  }
  return { users, groups, sas, others };
}

function bindingColumns(what: string): Column[] {
  return [
    nameCol(),
    col("Role", "string", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.", (o) => {
      const ref = obj(o?.roleRef);
      return `${str(ref.kind)}/${str(ref.name)}`;
    }),
    ageCol(),
    col("Users", "string", `Users in the ${what}`, (o) => subjectsStrings(o?.subjects).users.join(", "), 1),
    col("Groups", "string", `Groups in the ${what}`, (o) => subjectsStrings(o?.subjects).groups.join(", "), 1),
    col("ServiceAccounts", "string", `ServiceAccounts in the ${what}`, (o) => subjectsStrings(o?.subjects).sas.join(", "), 1),
  ];
}

export const rbacColumns: Record<string, Column[]> = {
  "rbac.authorization.k8s.io/Role": defaultColumns,
  "rbac.authorization.k8s.io/ClusterRole": defaultColumns,
  "rbac.authorization.k8s.io/RoleBinding": bindingColumns("roleBinding"),
  "rbac.authorization.k8s.io/ClusterRoleBinding": bindingColumns("clusterRoleBinding"),
};
