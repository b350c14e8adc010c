// Join tokens in the K3s format: K10<sha256 of the CA certificate, hex>::<user>:<secret>.
// The hash lets a joining node pin the CA before trusting anything the server says.

export interface JoinToken {
  caHash?: string;
  user: string;
  secret: string;
}

export function formatJoinToken(caHash: string, secret: string, user = "server"): string {
  return `K10${caHash}::${user}:${secret}`;
}

/** Accepts the full K10 form, or a bare secret (then nothing is pinned). */
export function parseJoinToken(token: string): JoinToken {
  const t = token.trim();
  const m = /^K10([0-9a-f]{64})::([^:]+):(.+)$/.exec(t);
  if (m) return { caHash: m[1], user: m[2]!, secret: m[3]! };
  if (t.startsWith("K10")) throw new Error("the token looks like a K10 token but is malformed: expected K10<64 hex characters>::<user>:<secret>");
  return { user: "server", secret: t };
}

export function randomSecret(bytes = 24): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}

export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length !== y.length) return false;
  let d = 0;
  for (let i = 0; i < x.length; i++) d |= x[i]! ^ y[i]!;
  return d === 0;
}
