import { describe, expect, test } from "bun:test";
import { humanDuration } from "../../schemas/helpers/duration";
import { alignRows, columnWidths, printTable, tabwrite, tableRows, toYaml, toJson, stripManagedFields, type Table } from "../../cli/commands/printers";
import { rfc1123z, titleCase } from "../../cli/commands/describe";

const deployTable: Table = {
  kind: "Table",
  columnDefinitions: [
    { name: "Name", type: "string", format: "name", priority: 0 },
    { name: "Ready", type: "string", priority: 0 },
    { name: "Up-to-date", type: "integer", priority: 0 },
    { name: "Available", type: "integer", priority: 0 },
    { name: "Age", type: "string", priority: 0 },
    { name: "Containers", type: "string", priority: 1 },
  ],
  rows: [
    { cells: ["web", "3/3", 3, 3, "5m", "nginx"], object: { metadata: { name: "web", namespace: "default", labels: { app: "web", tier: "fe" } } } },
    { cells: ["a", "0/1", 0, 0, "10s", "x"], object: { metadata: { name: "a", namespace: "kube-system" } } },
  ],
};

describe("tables", () => {
  test("kubectl column layout (3-space padding, min width 6)", () => {
    expect(printTable(deployTable)).toBe(
      "NAME   READY   UP-TO-DATE   AVAILABLE   AGE\n" + "web    3/3     3            3           5m\n" + "a      0/1     0            0           10s\n",
    );
  });
  test("wide, -A, labels, kind prefix, no headers", () => {
    const rows = tableRows(deployTable, { wide: true, withNamespace: true, showLabels: true, kindPrefix: "deployment.apps" });
    expect(rows[0]).toEqual(["NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "LABELS"]);
    expect(rows[1]).toEqual(["default", "deployment.apps/web", "3/3", "3", "3", "5m", "nginx", "app=web,tier=fe"]);
    expect(rows[2]!.at(-1)).toBe("<none>");
    expect(tableRows(deployTable, { noHeaders: true }).length).toBe(2);
  });
  test("date cells given as timestamps become ages; null is <none>", () => {
    const t: Table = { kind: "Table", columnDefinitions: [{ name: "Name" }, { name: "Age", type: "date" }, { name: "X" }], rows: [{ cells: ["p", "2020-01-01T00:00:00Z", null] }] };
    const now = Date.parse("2020-01-01T00:01:05Z");
    expect(tableRows(t, { now })[1]).toEqual(["p", "65s", "<none>"]);
  });
  test("remembered widths keep watch rows aligned", () => {
    const rows = tableRows(deployTable);
    const w = columnWidths(rows);
    expect(alignRows([["web", "1/3", "1", "1", "6m"]], w)[0]).toBe("web    1/3     1            1           6m");
  });
  test("Go tabwriter semantics: blocks end at lines without the column", () => {
    const text = "Name:\tweb\nNamespace:\tdefault\nIPs:\n  IP:\t10.0.0.1\nContainers:\n  c:\n    Image:\tnginx\n    Restart Count:\t0";
    expect(tabwrite(text, 0, 2)).toBe(
      "Name:       web\nNamespace:  default\nIPs:\n  IP:  10.0.0.1\nContainers:\n  c:\n    Image:          nginx\n    Restart Count:  0",
    );
  });
});

describe("formatting", () => {
  test("humanDuration like kubectl", () => {
    const s = 1000;
    expect(humanDuration(5 * s)).toBe("5s");
    expect(humanDuration(119 * s)).toBe("119s");
    expect(humanDuration(150 * s)).toBe("2m30s");
    expect(humanDuration(600 * s)).toBe("10m");
    expect(humanDuration(3 * 3600 * s + 5 * 60 * s)).toBe("3h5m");
    expect(humanDuration(30 * 3600 * s)).toBe("30h");
    expect(humanDuration(3 * 86400 * s + 3600 * s)).toBe("3d1h");
    expect(humanDuration(40 * 86400 * s)).toBe("40d");
    expect(humanDuration(-5 * s)).toBe("<invalid>");
  });
  test("yaml/json output: sorted keys, unindented sequences, no managedFields", () => {
    const o = stripManagedFields({ kind: "Pod", apiVersion: "v1", metadata: { name: "p", managedFields: [{}], resourceVersion: "12" }, spec: { containers: [{ name: "c", image: "i" }] } });
    expect(toYaml(o)).toBe(
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  resourceVersion: "12"\nspec:\n  containers:\n  - image: i\n    name: c\n',
    );
    expect(toJson({ b: 1, a: 2 })).toBe('{\n    "a": 2,\n    "b": 1\n}\n');
  });
  test("describe helpers", () => {
    expect(titleCase("creationTimestamp")).toBe("Creation Timestamp");
    expect(titleCase("podCIDR")).toBe("Pod CIDR");
    expect(rfc1123z("2024-03-05T01:02:03Z")).toMatch(/^\w{3}, \d\d \w{3} 2024 \d\d:\d\d:\d\d [+-]\d{4}$/);
  });
});
