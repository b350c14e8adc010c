// Image tooling without containerd: tar/OCI archive writer, the pause program, the busybox
// test image builder, and CRI-style reference normalisation.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { buildOciArchive, sha256, tar } from "../../agent/images/oci.ts";
import { normalizeImageRef } from "../../agent/images/images.ts";
import { buildPauseImage, elf64Executable, isStaticElf, pauseBinary, PAUSE_IMAGE } from "../../agent/images/pause.ts";
import { BUSYBOX_IMAGE, busyboxImage } from "../images/builder.ts";
import { until } from "../harness/wait.ts";

/** Minimal ustar reader for checking our writer. */
function untar(buf: Uint8Array): Map<string, { type: string; data: Uint8Array; link: string; mode: number }> {
  const out = new Map<string, { type: string; data: Uint8Array; link: string; mode: number }>();
  const dec = new TextDecoder();
  const str = (o: number, n: number) => dec.decode(buf.subarray(o, o + n)).replace(/\0.*$/s, "");
  let off = 0;
  while (off + 512 <= buf.length) {
    if (buf.subarray(off, off + 512).every((b) => b === 0)) break;
    const name = str(off, 100);
    const prefix = str(off + 345, 155);
    const size = parseInt(str(off + 124, 12), 8);
    const mode = parseInt(str(off + 100, 8), 8);
    const type = str(off + 156, 1);
    const link = str(off + 157, 100);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : buf[off + i]!;
    expect(parseInt(str(off + 148, 8), 8)).toBe(sum);
    const path = prefix ? `${prefix}/${name}` : name;
    out.set(path, { type, data: buf.slice(off + 512, off + 512 + size), link, mode });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

describe("tar writer", () => {
  test("writes files, dirs, symlinks and long paths with valid checksums", () => {
    const long = "a/" + "b".repeat(90) + "/" + "c".repeat(60);
    const t = tar([
      { type: "dir", path: "bin" },
      { type: "file", path: "bin/x", data: "hello", mode: 0o755 },
      { type: "symlink", path: "bin/y", target: "x" },
      { type: "file", path: long, data: new Uint8Array(700) },
    ]);
    expect(t.length % 512).toBe(0);
    const m = untar(t);
    expect(m.get("bin/")!.type).toBe("5");
    expect(new TextDecoder().decode(m.get("bin/x")!.data)).toBe("hello");
    expect(m.get("bin/x")!.mode).toBe(0o755);
    expect(m.get("bin/y")!.link).toBe("x");
    expect(m.get(long)!.data.length).toBe(700);
  });

  test("GNU tar reads it", () => {
    if (!existsSync("/bin/tar") && !existsSync("/usr/bin/tar")) return;
    const dir = mkdtempSync(join(tmpdir(), "skiff-tar-"));
    try {
      writeFileSync(join(dir, "t.tar"), tar([{ type: "dir", path: "d" }, { type: "file", path: "d/f", data: "x" }, { type: "symlink", path: "d/l", target: "f" }]));
      const r = spawnSync("tar", ["-tvf", join(dir, "t.tar")], { encoding: "utf8" });
      expect(r.status).toBe(0);
      expect(r.stdout).toContain("d/f");
      expect(r.stdout).toContain("d/l -> f");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("OCI archive", () => {
  const spec = {
    name: "docker.io/library/t:1",
    files: [{ type: "dir" as const, path: "etc" }, { type: "file" as const, path: "etc/x", data: "y" }],
    entrypoint: ["/x"],
  };

  test("is deterministic and self-consistent", () => {
    const a = buildOciArchive(spec);
    const b = buildOciArchive(spec);
    expect(sha256(a.tar)).toBe(sha256(b.tar));
    const files = untar(a.tar);
    expect(JSON.parse(new TextDecoder().decode(files.get("oci-layout")!.data))).toEqual({ imageLayoutVersion: "1.0.0" });
    const index = JSON.parse(new TextDecoder().decode(files.get("index.json")!.data));
    const desc = index.manifests[0];
    expect(desc.digest).toBe(a.manifestDigest);
    expect(desc.annotations["io.containerd.image.name"]).toBe("docker.io/library/t:1");
    expect(desc.annotations["org.opencontainers.image.ref.name"]).toBe("1");
    // every blob's name is its sha256 and sizes match
    for (const [path, f] of files) {
      if (path.startsWith("blobs/sha256/") && f.type === "0") expect("blobs/sha256/" + sha256(f.data)).toBe(path);
    }
    const blob = (d: string) => files.get("blobs/sha256/" + d.slice(7))!.data;
    const manifest = JSON.parse(new TextDecoder().decode(blob(a.manifestDigest)));
    expect(manifest.config.digest).toBe(a.configDigest);
    expect(manifest.layers[0].size).toBe(blob(manifest.layers[0].digest).length);
    const config = JSON.parse(new TextDecoder().decode(blob(a.configDigest)));
    expect(config.config.Entrypoint).toEqual(["/x"]);
    const layer = gunzipSync(blob(manifest.layers[0].digest));
    expect(config.rootfs.diff_ids).toEqual(["sha256:" + sha256(layer)]);
    expect(new TextDecoder().decode(untar(layer).get("etc/x")!.data)).toBe("y");
  });
});

describe("pause image", () => {
  test("the pause program is a tiny static ELF", () => {
    const bin = pauseBinary("x64")!;
    expect(bin.length).toBeLessThan(512);
    expect(isStaticElf(bin)).toBe(true);
    const arm = pauseBinary("arm64")!;
    expect(isStaticElf(arm)).toBe(true);
    expect(new DataView(arm.buffer, arm.byteOffset).getUint16(18, true)).toBe(183); // EM_AARCH64
    expect(pauseBinary("mips")).toBeNull();
    expect(isStaticElf(new Uint8Array(10))).toBe(false);
  });

  test.skipIf(process.arch !== "x64")("it waits, survives SIGCHLD and exits 0 on SIGTERM and SIGINT", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-pause-"));
    try {
      const path = join(dir, "pause");
      writeFileSync(path, pauseBinary()!, { mode: 0o755 });
      for (const sig of ["SIGTERM", "SIGINT"] as const) {
        const p = Bun.spawn([path], { stdio: ["ignore", "ignore", "ignore"] });
        // Signals only once it waits for them in rt_sigtimedwait (syscall 128 on x86_64; SigBlk
        // reads 0 during that wait): a fixed sleep can end before it got there on a loaded machine.
        await until("pause waiting in rt_sigtimedwait", () => readFileSync(`/proc/${p.pid}/syscall`, "utf8").startsWith("128 "), 10_000, 10);
        p.kill("SIGCHLD");
        await Bun.sleep(50);
        expect(p.exitCode).toBeNull();
        p.kill(sig);
        expect(await p.exited).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the image has /pause as entrypoint", () => {
    const a = buildPauseImage();
    const files = untar(a.tar);
    const index = JSON.parse(new TextDecoder().decode(files.get("index.json")!.data));
    expect(index.manifests[0].annotations["io.containerd.image.name"]).toBe(PAUSE_IMAGE);
    const config = JSON.parse(new TextDecoder().decode(files.get("blobs/sha256/" + a.configDigest.slice(7))!.data));
    if (process.arch === "x64") expect(config.config.Entrypoint).toEqual(["/pause"]);
    expect(elf64Executable(new Uint8Array([0xc3]), 62).length).toBe(121);
  });
});

describe("busybox test image", () => {
  test.skipIf(!existsSync("/bin/busybox"))("is cached, deterministic and has the applets", () => {
    const a = busyboxImage();
    const b = busyboxImage();
    expect(a).toBe(b);
    const files = untar(new Uint8Array(readFileSync(a)));
    const index = JSON.parse(new TextDecoder().decode(files.get("index.json")!.data));
    expect(index.manifests[0].annotations["io.containerd.image.name"]).toBe(BUSYBOX_IMAGE);
    const manifest = JSON.parse(new TextDecoder().decode(files.get("blobs/sha256/" + index.manifests[0].digest.slice(7))!.data));
    const layer = untar(gunzipSync(files.get("blobs/sha256/" + manifest.layers[0].digest.slice(7))!.data));
    expect(isStaticElf(layer.get("bin/busybox")!.data)).toBe(true);
    for (const a of ["sh", "httpd", "sleep", "cat", "echo", "wget", "nc"]) expect(layer.get(`bin/${a}`)!.link).toBe("busybox");
    const withFile = busyboxImage({ name: "docker.io/library/web:1", extraFiles: { "/www/index.html": "hi" } });
    expect(withFile).not.toBe(a);
  });
});

describe("normalizeImageRef", () => {
  const cases: [string, string][] = [
    ["busybox", "docker.io/library/busybox:latest"],
    ["busybox:1.36", "docker.io/library/busybox:1.36"],
    ["local/pause:1", "docker.io/local/pause:1"],
    ["docker.io/busybox", "docker.io/library/busybox:latest"],
    ["index.docker.io/library/busybox:1", "docker.io/library/busybox:1"],
    ["registry.example:5000/a/b", "registry.example:5000/a/b:latest"],
    ["localhost/x:2", "localhost/x:2"],
    ["quay.io/x/y@sha256:" + "a".repeat(64), "quay.io/x/y@sha256:" + "a".repeat(64)],
    ["busybox:1@sha256:" + "b".repeat(64), "docker.io/library/busybox:1@sha256:" + "b".repeat(64)],
  ];
  for (const [i, o] of cases) test(`${i} → ${o}`, () => expect(normalizeImageRef(i)).toBe(o));
  test("rejects empty and upper-case names", () => {
    expect(() => normalizeImageRef("")).toThrow(/empty/);
    expect(() => normalizeImageRef("Busybox")).toThrow(/lowercase/);
  });
});
