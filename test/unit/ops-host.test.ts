// The pure parts of `skiff install|killall|uninstall`: which firewall rules are Skiff's (by
// prefix and CNI network tag, never another network's), ExecStart quoting round trips, and which
// processes belong to a data dir.
import { describe, expect, test } from "bun:test";
import { cleanupScript, parseSave } from "../../cli/host/network.ts";
import { findOurProcesses, skiffMode, type ProcInfo } from "../../cli/host/processes.ts";
import { quoteArg, splitExec, unitText } from "../../cli/host/systemd.ts";

const SAVE = `*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CNI-aaa - [0:0]
:CNI-bbb - [0:0]
:CNI-DN-aaa - [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:CNI-HOSTPORT-MASQ - [0:0]
:SKIFF-SERVICES - [0:0]
:SKIFF-NWPLCY-X - [0:0]
:DOCKER - [0:0]
-A PREROUTING -m comment --comment "skiff service portals" -j SKIFF-SERVICES
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A PREROUTING -j DOCKER
-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
-A POSTROUTING -s 10.42.0.2/32 -m comment --comment "name: \\"skiff\\" id: \\"c1\\"" -j CNI-aaa
-A POSTROUTING -s 10.88.0.2/32 -m comment --comment "name: \\"podman\\" id: \\"c2\\"" -j CNI-bbb
-A POSTROUTING -m set --match-set skiff-nets src -j MASQUERADE
-A CNI-aaa ! -d 224.0.0.0/4 -m comment --comment "name: \\"skiff\\" id: \\"c1\\"" -j MASQUERADE
-A CNI-bbb ! -d 224.0.0.0/4 -m comment --comment "name: \\"podman\\" id: \\"c2\\"" -j MASQUERADE
-A CNI-DN-aaa -p tcp -m tcp --dport 80 -m comment --comment "dnat name: \\"skiff\\" id: \\"c1\\"" -j DNAT --to-destination 10.42.0.2:80
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"skiff\\" id: \\"c1\\"" -m multiport --dports 80 -j CNI-DN-aaa
-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE
-A SKIFF-NWPLCY-X -j RETURN
COMMIT
`;

describe("firewall cleanup", () => {
  test("removes SKIFF-* chains, our CNI chains and every rule pointing at them; keeps other networks'", () => {
    const [nat] = parseSave(SAVE);
    const s = cleanupScript(nat!);
    const lines = s.split("\n");
    for (const c of ["SKIFF-SERVICES", "SKIFF-NWPLCY-X", "CNI-aaa", "CNI-DN-aaa", "CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ"]) expect(lines, c).toContain(`-X ${c}`);
    for (const c of ["CNI-bbb", "DOCKER"]) expect(s).not.toContain(`-X ${c}`);
    expect(lines).toContain('-D PREROUTING -m comment --comment "skiff service portals" -j SKIFF-SERVICES');
    expect(lines).toContain("-D POSTROUTING -m set --match-set skiff-nets src -j MASQUERADE");
    expect(s).not.toContain("podman");
    expect(s).not.toContain("-j DOCKER");
    // flushes come before the deletes, chain removals last
    expect(lines.findIndex((l) => l.startsWith(":"))).toBeLessThan(lines.findIndex((l) => l.startsWith("-D")));
    expect(lines.findLastIndex((l) => l.startsWith("-D"))).toBeLessThan(lines.findIndex((l) => l.startsWith("-X")));
  });

  test("portmap's shared chains stay while another network maps a port through them", () => {
    const other = SAVE.replace("-A CNI-HOSTPORT-MASQ", '-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"podman\\" id: \\"c2\\"" -j CNI-DN-bbb\n-A CNI-HOSTPORT-MASQ');
    const s = cleanupScript(parseSave(other)[0]!);
    expect(s).not.toContain("-X CNI-HOSTPORT-DNAT");
    expect(s).toContain("-X CNI-DN-aaa");
    expect(s).toContain("-D CNI-HOSTPORT-DNAT -p tcp -m comment --comment \"dnat name: \\\"skiff\\\"");
  });

  test("a table with nothing of ours gives no script", () => {
    expect(cleanupScript(parseSave("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n")[0]!)).toBe("");
  });
});

describe("systemd unit", () => {
  test("ExecStart quoting round-trips spaces, quotes, % and $", () => {
    const args = ["--data-dir", "/var/lib/a b", "--node-name", 'x"y', "--tls-san", "100%$HOME", "--flag=\\n"];
    const text = unitText({ mode: "agent", bin: "/usr/local/bin/skiff", flags: args, envFile: "/etc/x.env" });
    const exec = /^ExecStart=((?:.*\\\n)*.*)$/m.exec(text)![1]!;
    expect(splitExec(exec)).toEqual(["/usr/local/bin/skiff", "agent", ...args]);
    expect(quoteArg("100%")).toBe("100%%");
    expect(quoteArg("a$b")).toBe('"a$$b"');
  });
});

describe("processes of a data dir", () => {
  const P = (pid: number, ppid: number, ...args: string[]): ProcInfo => ({ pid, ppid, args });
  test("skiff server|agent by its --data-dir, containerd and shims by path, containers as descendants", () => {
    const procs = [
      P(100, 1, "/usr/local/bin/skiff", "server", "--data-dir", "/d"),
      P(101, 100, "containerd", "--config", "/d/agent/containerd/config.toml"),
      P(200, 1, "/usr/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-id", "abc", "-address", "/d/agent/containerd/containerd.sock"),
      P(201, 200, "sleep", "3600"),
      P(300, 1, "/usr/local/bin/skiff", "server", "--data-dir=/other"),
      P(301, 1, "bun", "/repo/cli/main.ts", "agent", "--data-dir", "/d/"),
      P(400, 1, "/usr/bin/containerd-shim-runc-v2", "-address", "/dd/containerd.sock"),
    ];
    const o = findOurProcesses("/d", procs);
    expect(o.skiff.map((p) => p.pid).sort()).toEqual([100, 301]);
    expect(o.others.map((p) => p.pid).sort()).toEqual([101, 200, 201]);
    expect(skiffMode(["/x/skiff-arm64", "agent"])?.mode).toBe("agent");
    expect(skiffMode(["/x/skiff", "killall"])).toBeUndefined();
  });
});
