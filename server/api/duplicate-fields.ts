// Strict field validation also rejects duplicate keys, which JSON.parse silently collapses.
// A single pass over the text that tracks keys per object, reporting paths like "spec.replicas".

export function duplicateJsonFields(text: string): string[] {
  const dups: string[] = [];
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t")) i++;
  };
  const str = (): string => {
    // Assumes a '"' at i; returns the decoded key (escapes resolved cheaply through JSON.parse).
    const start = i;
    i++;
    let hasEscape = false;
    while (i < n && text[i] !== '"') {
      if (text[i] === "\\") {
        hasEscape = true;
        i++;
      }
      i++;
    }
    i++;
    const raw = text.slice(start, i);
    return hasEscape ? (JSON.parse(raw) as string) : raw.slice(1, -1);
  };
  const value = (path: string, depth: number): void => {
    if (depth > 1000) throw new Error("too deep");
    ws();
    const ch = text[i];
    if (ch === "{") {
      i++;
      const seen = new Set<string>();
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      while (i < n) {
        ws();
        if (text[i] !== '"') return;
        const k = str();
        const p = path ? `${path}.${k}` : k;
        if (seen.has(k)) dups.push(p);
        seen.add(k);
        ws();
        i++; // :
        value(p, depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        i++; // }
        return;
      }
    } else if (ch === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      let idx = 0;
      while (i < n) {
        value(`${path}[${idx++}]`, depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        i++; // ]
        return;
      }
    } else if (ch === '"') {
      str();
    } else {
      while (i < n && !",}] \n\r\t".includes(text[i]!)) i++;
    }
  };
  value("", 0);
  return dups;
}
