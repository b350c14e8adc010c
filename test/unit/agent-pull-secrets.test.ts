// imagePullSecrets → CRI AuthConfig: which Secret entries match an image, in which order, and
// how dockerconfigjson / dockercfg entries become credentials (kubelet's keyring rules).
import { describe, expect, test } from "bun:test";
import { credentialsFor, keyMatches, normalizeRegistryKey } from "../../agent/images/pull-secrets.ts";
import { normalizeImageRef } from "../../agent/images/images.ts";
import type { ConfigMapLike } from "../../agent/pods/types.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const dockerconfigjson = (name: string, auths: Record<string, unknown>): ConfigMapLike => ({
  metadata: { name, uid: name },
  type: "kubernetes.io/dockerconfigjson",
  data: { ".dockerconfigjson": b64(JSON.stringify({ auths })) },
});

describe("registry keys", () => {
  test("are normalised like kubelet's keyring", () => {
    expect(normalizeRegistryKey("https://index.docker.io/v1/")).toBe("docker.io");
    expect(normalizeRegistryKey("index.docker.io")).toBe("docker.io");
    expect(normalizeRegistryKey("registry-1.docker.io")).toBe("docker.io");
    expect(normalizeRegistryKey("http://Reg.Example:5000/team/")).toBe("reg.example:5000/team/");
    expect(normalizeRegistryKey("https://reg.example.com/v2/")).toBe("reg.example.com");
    expect(normalizeRegistryKey("reg.example.com/v1/team")).toBe("reg.example.com/team");
    expect(normalizeRegistryKey("quay.io")).toBe("quay.io");
  });

  test("match by host, port, one-label globs and path prefix", () => {
    expect(keyMatches("reg:5000", "reg:5000/a/b")).toBe(true);
    expect(keyMatches("reg:5000", "reg/a/b")).toBe(false); // the port must match
    expect(keyMatches("reg", "reg:5000/a")).toBe(false);
    expect(keyMatches("reg:5000/team", "reg:5000/team/app")).toBe(true);
    expect(keyMatches("reg:5000/team", "reg:5000/teamx/app")).toBe(true); // a string prefix, as in kubelet
    expect(keyMatches("reg:5000/team/", "reg:5000/teamx/app")).toBe(false);
    expect(keyMatches("reg?.example.com", "reg1.example.com/x")).toBe(true);
    expect(keyMatches("reg[0-9].example.com", "regx.example.com/x")).toBe(false);
    expect(keyMatches("*.example.com", "a.example.com/x")).toBe(true);
    expect(keyMatches("*.example.com", "a.b.example.com/x")).toBe(false); // * is one label
    expect(keyMatches("*.example.com", "example.com/x")).toBe(false);
    expect(keyMatches("docker.io", "docker.io/library/busybox")).toBe(true);
  });
});

describe("credentialsFor", () => {
  test("picks the matching entries, most specific first, across the pod's Secrets", () => {
    const a = dockerconfigjson("a", {
      "reg.local:5000": { username: "any", password: "p1" },
      "https://index.docker.io/v1/": { auth: b64("hub:p2") },
    });
    const b = dockerconfigjson("b", { "reg.local:5000/team": { auth: b64("team:p:with:colons"), identitytoken: "tok" } });
    const creds = credentialsFor(normalizeImageRef("reg.local:5000/team/app:1"), [a, b]);
    expect(creds.map((c) => [c.secret, c.auth.username, c.auth.password])).toEqual([
      ["b", "team", "p:with:colons"],
      ["a", "any", "p1"],
    ]);
    // no serverAddress: containerd drops credentials whose address is not a URL of the host it dials
    expect(creds[0]!.auth).toEqual({ username: "team", password: "p:with:colons", identityToken: "tok" });
    const hub = credentialsFor(normalizeImageRef("busybox:1.36"), [a, b]);
    expect(hub.map((c) => c.auth.username)).toEqual(["hub"]);
    expect(credentialsFor(normalizeImageRef("quay.io/x/y@sha256:" + "a".repeat(64)), [a, b])).toEqual([]);
  });

  test("legacy dockercfg Secrets work; other types and malformed data give nothing", () => {
    const legacy: ConfigMapLike = { metadata: { name: "old", uid: "old" }, type: "kubernetes.io/dockercfg", data: { ".dockercfg": b64(JSON.stringify({ "reg.local": { auth: b64("u:p") } })) } };
    expect(credentialsFor("reg.local/app:1", [legacy]).map((c) => c.auth.password)).toEqual(["p"]);
    const opaque: ConfigMapLike = { metadata: { name: "o", uid: "o" }, type: "Opaque", data: { ".dockerconfigjson": b64(JSON.stringify({ auths: { "reg.local": { auth: b64("u:p") } } })) } };
    const broken: ConfigMapLike = { metadata: { name: "x", uid: "x" }, type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": b64("{not json") } };
    const noAuths: ConfigMapLike = { metadata: { name: "y", uid: "y" }, type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": b64("{}") } };
    expect(credentialsFor("reg.local/app:1", [opaque, broken, noAuths])).toEqual([]);
  });
});
