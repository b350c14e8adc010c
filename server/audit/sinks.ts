// The audit log's destinations: stdout (`--audit-log-path -`) or a file that is rotated by size
// and pruned by count and age (kube-apiserver's --audit-log-maxsize/maxbackup/maxage, which it
// implements with lumberjack: backups are named <name>-<UTC time>.<ext> next to the file).
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { appendFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import type { AuditSink } from "./backend";

export function stdoutSink(): AuditSink {
  return {
    write: (chunk) => new Promise<void>((resolve, reject) => process.stdout.write(chunk, (e) => (e ? reject(e) : resolve()))),
    close: async () => {},
  };
}

export interface RotateOptions {
  /** Megabytes before the file is rotated; 0 = no rotation unless maxBackups/maxAgeDays ask for it (then 100). */
  maxSizeMB: number;
  /** Rotated files kept; 0 = all. */
  maxBackups: number;
  /** Days a rotated file is kept; 0 = forever. */
  maxAgeDays: number;
  /** Clock (tests). */
  now?: () => Date;
}

const MB = 1024 * 1024;

export class FileSink implements AuditSink {
  private size = -1;
  private readonly limit: number;
  private readonly now: () => Date;

  constructor(
    readonly path: string,
    private readonly o: RotateOptions = { maxSizeMB: 0, maxBackups: 0, maxAgeDays: 0 },
  ) {
    const rotates = o.maxSizeMB > 0 || o.maxBackups > 0 || o.maxAgeDays > 0;
    this.limit = !rotates ? Infinity : (o.maxSizeMB > 0 ? o.maxSizeMB : 100) * MB;
    this.now = o.now ?? (() => new Date());
  }

  async write(chunk: string): Promise<void> {
    const bytes = Buffer.byteLength(chunk);
    if (this.size < 0) {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      try {
        this.size = statSync(this.path).size;
      } catch {
        this.size = 0;
      }
    }
    if (this.size > 0 && this.size + bytes > this.limit) await this.rotate();
    // Opened per batch (a few times a second at most): no descriptor to leak, and a log file
    // someone moved away is simply created again. Events name users, objects and (at Request
    // level) bodies: owner only, like upstream.
    await appendFile(this.path, chunk, { mode: 0o600 });
    this.size += bytes;
  }

  private backupName(t: Date): string {
    const ext = extname(this.path);
    const stem = basename(this.path, ext);
    const stamp = t.toISOString().replace(/Z$/, "").replace(/:/g, "-");
    return join(dirname(this.path), `${stem}-${stamp}${ext}`);
  }

  private async rotate(): Promise<void> {
    await rename(this.path, this.backupName(this.now()));
    this.size = 0;
    await this.prune();
  }

  /** Rotated files of this log, newest first. */
  backups(): { path: string; time: number }[] {
    const ext = extname(this.path);
    const stem = basename(this.path, ext);
    const dir = dirname(this.path);
    const out: { path: string; time: number }[] = [];
    for (const f of readdirSync(dir)) {
      if (!f.startsWith(`${stem}-`) || !f.endsWith(ext)) continue;
      const stamp = f.slice(stem.length + 1, f.length - ext.length);
      const m = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2}\.\d{3})$/.exec(stamp);
      if (!m) continue;
      const time = Date.parse(`${m[1]}T${m[2]}:${m[3]}:${m[4]}Z`);
      if (Number.isFinite(time)) out.push({ path: join(dir, f), time });
    }
    return out.sort((a, b) => b.time - a.time);
  }

  private async prune(): Promise<void> {
    const all = this.backups();
    const cutoff = this.o.maxAgeDays > 0 ? this.now().getTime() - this.o.maxAgeDays * 86_400_000 : -Infinity;
    for (const [i, b] of all.entries()) {
      if ((this.o.maxBackups > 0 && i >= this.o.maxBackups) || b.time < cutoff) await unlink(b.path).catch(() => {});
    }
  }

  async close(): Promise<void> {}
}

