// containerd supervision pieces that need no containerd: preflight (packages, capabilities,
// cgroups), the generated config, the CNI conflist.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cniConflist, writeCniConfig } from "../../agent/containerd/cni.ts";
import { agentPaths, containerdConfig } from "../../agent/containerd/config.ts";
import { CAP_SYS_RESOURCE, detectCgroups, effectiveCapabilities, hasCapability, preflight } from "../../agent/containerd/preflight.ts";

describe("preflight", () => {
  test("names the Debian packages for missing binaries", () => {
    const r = preflight({ path: ["/nonexistent"], cniBinDir: "/nonexistent/cni" });
    expect(r.ok).toBe(false);
    expect(r.missingPackages.sort()).toEqual(["containerd", "containernetworking-plugins", "iptables", "runc"]);
    expect(r.errors[0]).toContain("apt-get install -y containerd runc containernetworking-plugins iptables");
    expect(r.errors[0]).toContain("/nonexistent/cni/bridge");
    const ext = preflight({ path: ["/nonexistent"], cniBinDir: "/nonexistent/cni", externalRuntime: true });
    expect(ext.missingPackages).not.toContain("containerd");
  });

  test("detects CAP_SYS_RESOURCE from CapEff", () => {
    const without = "Name:\tx\nCapEff:\t000001fffeffffff\n"; // bit 24 clear (this sandbox)
    const full = "CapEff:\t000001ffffffffff\n";
    expect(hasCapability(CAP_SYS_RESOURCE, effectiveCapabilities(without))).toBe(false);
    expect(hasCapability(CAP_SYS_RESOURCE, effectiveCapabilities(full))).toBe(true);
    expect(preflight({ procStatus: without }).restrictOomScoreAdj).toBe(true);
    const r = preflight({ procStatus: full });
    expect(r.restrictOomScoreAdj).toBe(false);
    expect(preflight({ procStatus: "CapEff:\t0000000000000000\n" }).errors.join()).toContain("CAP_SYS_ADMIN");
  });

  test("reports cgroups instead of failing", () => {
    const c = detectCgroups();
    expect([1, 2]).toContain(c.version);
    const none = detectCgroups("/nonexistent");
    expect(none.version).toBe(1);
  });
});

describe("containerd config", () => {
  const paths = agentPaths("/var/lib/skiff");
  test("paths live under the data dir", () => {
    expect(paths.socket).toBe("/var/lib/skiff/agent/containerd/containerd.sock");
    expect(paths.cniConfDir).toBe("/var/lib/skiff/agent/cni/net.d");
    expect(paths.imagesDir).toBe("/var/lib/skiff/agent/images");
  });

  test("version 2 with CRI, sandbox image, CNI dirs and restrict_oom_score_adj", () => {
    const cfg = containerdConfig({ paths, sandboxImage: "docker.io/skiff/pause:1.0", restrictOomScoreAdj: true });
    expect(cfg).toMatch(/^version = 2$/m);
    expect(cfg).toContain('root = "/var/lib/skiff/agent/containerd/root"');
    expect(cfg).toContain('state = "/var/lib/skiff/agent/containerd/state"');
    expect(cfg).toContain('address = "/var/lib/skiff/agent/containerd/containerd.sock"');
    expect(cfg).toContain('[plugins."io.containerd.grpc.v1.cri"]');
    expect(cfg).toContain('sandbox_image = "docker.io/skiff/pause:1.0"');
    expect(cfg).toContain("restrict_oom_score_adj = true");
    expect(cfg).toContain('bin_dir = "/usr/lib/cni"');
    expect(cfg).toContain('conf_dir = "/var/lib/skiff/agent/cni/net.d"');
    expect(cfg).toContain('snapshotter = "overlayfs"');
    expect(containerdConfig({ paths, sandboxImage: "p", restrictOomScoreAdj: false, snapshotter: "native" })).toContain(
      'snapshotter = "native"',
    );
  });
});

describe("CNI config", () => {
  test("bridge + host-local + portmap conflist", () => {
    const c = cniConflist({ confDir: "/c", ipamDir: "/i", podCidr: "10.42.1.0/24" }) as any;
    expect(c.plugins.map((p: any) => p.type)).toEqual(["bridge", "portmap"]);
    expect(c.plugins[0].bridge).toBe("skiff0");
    expect(c.plugins[0].ipam).toMatchObject({ type: "host-local", dataDir: "/i", ranges: [[{ subnet: "10.42.1.0/24" }]] });
    expect(c.plugins[1].capabilities).toEqual({ portMappings: true });
    expect(() => cniConflist({ confDir: "/c", ipamDir: "/i", podCidr: "x", bridge: "a-very-long-bridge-name" })).toThrow(/15/);
  });

  test("is written atomically", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-cni-"));
    try {
      const p = writeCniConfig({ confDir: join(dir, "net.d"), ipamDir: join(dir, "ipam"), podCidr: "10.42.0.0/24", bridge: "br-test" });
      expect(JSON.parse(readFileSync(p, "utf8")).plugins[0].bridge).toBe("br-test");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
