// imagePullSecrets → CRI AuthConfig, as kubelet's credential keyring does it: the pod's
// kubernetes.io/dockerconfigjson (and legacy kubernetes.io/dockercfg) Secrets are parsed, every
// entry whose registry key matches the image (same host and port, each DNS label matched as a
// glob, the key's path a prefix of the repository's) is a candidate, in kubelet's order (keys
// sorted reverse-lexically), and the pull is tried with each until one succeeds. Docker Hub's
// keys (https://index.docker.io/v1/, …) match docker.io images. Like kubelet, the AuthConfig
// carries no server address: containerd would drop credentials whose address is not a URL of
// the very host it dials.

import type { AuthConfig } from "../cri/types.ts";
import type { ConfigMapLike } from "../pods/types.ts";

interface DockerConfigEntry {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  identitytoken?: string;
  registrytoken?: string;
}

export interface RegistryCredential {
  /** The registry key as written in the Secret (for messages). */
  key: string;
  /** Secret it came from (for messages). */
  secret: string;
  auth: AuthConfig;
}

/** "https://index.docker.io/v1/" → "docker.io"; "http://reg:5000/v2/team/" → "reg:5000/team". */
export function normalizeRegistryKey(key: string): string {
  const k = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const slash = k.indexOf("/");
  let h = (slash < 0 ? k : k.slice(0, slash)).toLowerCase();
  let path = slash < 0 ? "" : k.slice(slash);
  // docker's client (and kubelet) read /v1/ and /v2/ as the registry itself
  if (path.startsWith("/v1/") || path.startsWith("/v2/")) path = path.slice(3);
  if (path === "/") path = "";
  if (h === "index.docker.io" || h === "registry-1.docker.io" || h === "registry.hub.docker.com") h = "docker.io";
  return h + path;
}

/** "docker.io/library/busybox:1.36" → "docker.io/library/busybox" (normalised refs only). */
function repository(normalizedRef: string): string {
  let r = normalizedRef;
  const at = r.indexOf("@");
  if (at >= 0) r = r.slice(0, at);
  const colon = r.lastIndexOf(":");
  if (colon > r.lastIndexOf("/")) r = r.slice(0, colon);
  return r;
}

function hostMatches(glob: string, host: string): boolean {
  const [gName = "", gPort = ""] = splitPort(glob);
  const [hName = "", hPort = ""] = splitPort(host);
  if (gPort !== hPort) return false;
  const g = gName.split(".");
  const h = hName.split(".");
  if (g.length !== h.length) return false;
  return g.every((label, i) => label === h[i] || (/[*?[]/.test(label) && globLabel(label, h[i]!)));
}

function splitPort(host: string): [string, string] {
  const m = /^(.*?)(?::(\d+))?$/.exec(host)!;
  return [m[1]!, m[2] ?? ""];
}

/** Go's filepath.Match on one DNS label: `*`, `?` and `[...]` classes. */
function globLabel(glob: string, label: string): boolean {
  let re = "^";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") re += "[^.]*";
    else if (c === "?") re += "[^.]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end < 0) return false; // filepath.Match: bad pattern, no match
      re += "[" + glob.slice(i + 1, end).replace(/\\/g, "\\\\") + "]";
      i = end;
    } else re += c.replace(/[.+^${}()|\]\\/]/g, "\\$&");
  }
  try {
    return new RegExp(re + "$").test(label);
  } catch {
    return false;
  }
}

/** Whether a normalised key covers a repository ("reg:5000/team" covers "reg:5000/team/app";
 *  like kubelet, the path is a plain string prefix). */
export function keyMatches(key: string, repo: string): boolean {
  const ks = key.indexOf("/");
  const rs = repo.indexOf("/");
  const kHost = ks < 0 ? key : key.slice(0, ks);
  const rHost = rs < 0 ? repo : repo.slice(0, rs);
  if (!hostMatches(kHost, rHost)) return false;
  return (rs < 0 ? "" : repo.slice(rs)).startsWith(ks < 0 ? "" : key.slice(ks));
}

function decodeBase64(s: string): string {
  return Buffer.from(s, "base64").toString("utf8");
}

function entries(secret: ConfigMapLike): [string, DockerConfigEntry][] {
  const data = secret.data ?? {};
  try {
    if (secret.type === "kubernetes.io/dockerconfigjson" && data[".dockerconfigjson"]) {
      const auths = JSON.parse(decodeBase64(data[".dockerconfigjson"])).auths;
      return auths && typeof auths === "object" ? Object.entries(auths as Record<string, DockerConfigEntry>) : [];
    }
    if (secret.type === "kubernetes.io/dockercfg" && data[".dockercfg"]) {
      return Object.entries(JSON.parse(decodeBase64(data[".dockercfg"])) as Record<string, DockerConfigEntry>);
    }
  } catch {
    // A malformed Secret gives no credentials (kubelet logs and pulls without them).
  }
  return [];
}

function toAuth(e: DockerConfigEntry): AuthConfig {
  let { username = "", password = "" } = e;
  if (!username && !password && e.auth) {
    const plain = decodeBase64(e.auth);
    const colon = plain.indexOf(":");
    if (colon > 0) [username, password] = [plain.slice(0, colon), plain.slice(colon + 1)];
  }
  return {
    username,
    password,
    ...(e.identitytoken ? { identityToken: e.identitytoken } : {}),
    ...(e.registrytoken ? { registryToken: e.registrytoken } : {}),
  };
}

/** Credentials for pulling `normalizedRef`, most specific key first; [] = pull anonymously. */
export function credentialsFor(normalizedRef: string, secrets: ConfigMapLike[]): RegistryCredential[] {
  const repo = repository(normalizedRef);
  const found: (RegistryCredential & { norm: string })[] = [];
  for (const s of secrets) {
    for (const [key, e] of entries(s)) {
      if (!e || typeof e !== "object") continue;
      const norm = normalizeRegistryKey(key);
      if (norm && keyMatches(norm, repo)) found.push({ key, secret: s.metadata.name, auth: toAuth(e), norm });
    }
  }
  // kubelet's keyring order: keys reverse-lexically (so a longer path before its prefix); the
  // sort is stable, so equal keys keep the pod's Secret order.
  found.sort((a, b) => (a.norm < b.norm ? 1 : a.norm > b.norm ? -1 : 0));
  return found.map(({ norm: _norm, ...c }) => c);
}
