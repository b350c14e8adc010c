// Server-set object metadata: generated names and timestamps.

const NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789";

/** Kubernetes' generateName suffix: 5 characters from a vowel-free alphabet. */
export function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  let s = "";
  for (const b of bytes) s += NAME_CHARS[b % NAME_CHARS.length];
  return s;
}

/** RFC 3339 to the second, as metav1.Time serialises. */
export function timestamp(d: Date = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}
