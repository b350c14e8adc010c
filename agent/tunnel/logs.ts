// Container logs from the node's CRI log files, as kubelet serves them: one file per container
// start, kubelet layout `<pods-logs>/<ns>_<pod>_<uid>/<container>/<restartCount>.log`, lines
// `<RFC3339Nano> <stdout|stderr> <F|P> <msg>` (P = partial: the message continues on the next
// line without a newline). Options: tailLines, sinceTime, timestamps, limitBytes, previous,
// follow (until the container stops or the reader goes away; survives rotation).
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import type { CriClient } from "../cri/client.ts";
import type { LogRequest } from "../../lib/wsstream/tunnel.ts";

export class LogError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ParsedLine {
  time: string;
  stream: string;
  partial: boolean;
  msg: Uint8Array;
}

/** Parses one CRI log line (without its trailing newline); null if malformed. */
export function parseCriLine(line: Uint8Array): ParsedLine | null {
  const sp1 = line.indexOf(0x20);
  if (sp1 < 0) return null;
  const sp2 = line.indexOf(0x20, sp1 + 1);
  if (sp2 < 0) return null;
  const sp3 = line.indexOf(0x20, sp2 + 1);
  const tag = sp3 < 0 ? line.subarray(sp2 + 1) : line.subarray(sp2 + 1, sp3);
  const dec = new TextDecoder();
  return {
    time: dec.decode(line.subarray(0, sp1)),
    stream: dec.decode(line.subarray(sp1 + 1, sp2)),
    partial: tag[0] === 0x50, // 'P'
    msg: sp3 < 0 ? new Uint8Array(0) : line.subarray(sp3 + 1),
  };
}

/** Nanosecond-aware comparison key for RFC 3339 timestamps (Date only has ms). */
export function timeKey(t: string): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return 0n;
  const secs = BigInt(Math.floor(Date.parse(m[1]! + m[3]!) / 1000));
  const frac = BigInt(((m[2] ?? "") + "000000000").slice(0, 9));
  return secs * 1_000_000_000n + frac;
}

/** Options as the formatter needs them. */
export interface FormatOptions {
  timestamps?: boolean;
  sinceKey?: bigint;
  limitBytes?: number;
}

/**
 * Turns CRI lines into what `kubectl logs` prints. Stateful: a partial line's pieces are
 * joined, and the byte limit spans calls. `push` returns the output and whether the limit is hit.
 */
export class LogFormatter {
  private written = 0;
  private midLine = false;
  constructor(private readonly o: FormatOptions) {}

  get done(): boolean {
    return this.o.limitBytes !== undefined && this.written >= this.o.limitBytes;
  }

  format(line: Uint8Array): Uint8Array | null {
    if (this.done) return null;
    const p = parseCriLine(line);
    if (!p) return null;
    if (this.o.sinceKey !== undefined && !this.midLine && timeKey(p.time) < this.o.sinceKey) return null;
    const prefix = this.o.timestamps && !this.midLine ? new TextEncoder().encode(p.time + " ") : new Uint8Array(0);
    this.midLine = p.partial;
    let out = new Uint8Array(prefix.length + p.msg.length + (p.partial ? 0 : 1));
    out.set(prefix, 0);
    out.set(p.msg, prefix.length);
    if (!p.partial) out[out.length - 1] = 0x0a;
    if (this.o.limitBytes !== undefined && this.written + out.length > this.o.limitBytes) out = out.subarray(0, this.o.limitBytes - this.written);
    this.written += out.length;
    return out;
  }
}

/** Byte offset where the last `n` lines of the file start (kubelet counts physical lines). */
export function tailOffset(fd: number, size: number, n: number): number {
  if (n <= 0) return size;
  const chunk = 64 * 1024;
  let pos = size;
  let count = 0;
  const buf = Buffer.alloc(chunk);
  // A final line without its newline still counts as a line.
  let skipLastNewline = true;
  while (pos > 0) {
    const len = Math.min(chunk, pos);
    pos -= len;
    readSync(fd, buf, 0, len, pos);
    for (let i = len - 1; i >= 0; i--) {
      if (buf[i] === 0x0a) {
        if (skipLastNewline && pos + i === size - 1) continue;
        count++;
        if (count === n) return pos + i + 1;
      }
    }
    skipLastNewline = false;
  }
  return 0;
}

export interface LogPaths {
  /** Root of the per-pod log dirs (kubelet's /var/log/pods), e.g. <data-dir>/agent/pods-logs. */
  podLogsDir: string;
}

function numberedLogs(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => /^(\d+)\.log$/.exec(f))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Finds the log file: from CRI (the container's own log path) or by the kubelet layout. */
export async function resolveLogPath(cri: CriClient | null, paths: LogPaths, req: LogRequest): Promise<string> {
  if (req.containerId && cri) {
    try {
      const st = await cri.containerStatus(req.containerId.replace(/^\w+:\/\//, ""));
      if (st.status?.logPath && existsSync(st.status.logPath)) return st.status.logPath;
    } catch {
      // removed from containerd: fall back to the file layout
    }
  }
  const dir = join(paths.podLogsDir, `${req.namespace}_${req.pod}_${req.uid}`, req.container);
  const nums = numberedLogs(dir);
  if (req.previous) {
    const want = req.restartCount !== undefined ? req.restartCount - 1 : undefined;
    const n = want !== undefined && nums.includes(want) ? want : nums.length >= 2 ? nums[nums.length - 2] : undefined;
    if (n === undefined) throw new LogError(400, "BadRequest", `previous terminated container "${req.container}" in pod "${req.pod}" not found`);
    return join(dir, `${n}.log`);
  }
  const n = req.restartCount !== undefined && nums.includes(req.restartCount) ? req.restartCount : nums[nums.length - 1];
  if (n === undefined) throw new LogError(400, "BadRequest", `container "${req.container}" in pod "${req.pod}" is waiting to start: no logs yet`);
  return join(dir, `${n}.log`);
}

export interface LogSink {
  write(b: Uint8Array): boolean | void;
  /** Resolves when the sink can take more (backpressure). */
  waitDrain(): Promise<void>;
  /** True once the reader went away. */
  readonly closed: boolean;
}

/**
 * Streams a log file to `sink`. With follow, keeps reading new lines until `stillRunning()`
 * says the container stopped (checked when idle) or the sink closes; a rotated file (new inode
 * or shorter than our offset) is reopened from its start.
 */
export async function streamLog(
  path: string,
  req: LogRequest,
  sink: LogSink,
  stillRunning: () => Promise<boolean>,
  pollMs = 100,
): Promise<void> {
  const fmt = new LogFormatter({
    timestamps: req.timestamps,
    sinceKey: req.sinceTime ? timeKey(req.sinceTime) : undefined,
    limitBytes: req.limitBytes,
  });
  let fd = openSync(path, "r");
  try {
    let ino = fstatSync(fd).ino;
    const size = fstatSync(fd).size;
    let pos = req.tailLines !== undefined && req.tailLines >= 0 ? tailOffset(fd, size, req.tailLines) : 0;
    let carry: Uint8Array = new Uint8Array(0);
    const buf = Buffer.alloc(64 * 1024);
    let idleSince = Date.now();
    for (;;) {
      if (sink.closed || fmt.done) return;
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n > 0) {
        idleSince = Date.now();
        pos += n;
        let data: Uint8Array = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
        let start = 0;
        const outs: Uint8Array[] = [];
        for (let i = data.indexOf(0x0a); i >= 0; i = data.indexOf(0x0a, start)) {
          const o = fmt.format(data.subarray(start, i));
          if (o?.length) outs.push(o);
          start = i + 1;
        }
        carry = data.slice(start);
        if (outs.length) {
          const ok = sink.write(Buffer.concat(outs));
          if (ok === false) await sink.waitDrain();
        }
        continue;
      }
      if (!req.follow) {
        if (carry.length) {
          const o = fmt.format(carry);
          if (o?.length) sink.write(o);
        }
        return;
      }
      // EOF while following: rotation? container gone?
      try {
        const st = statSync(path);
        if (st.ino !== ino || st.size < pos) {
          closeSync(fd);
          fd = openSync(path, "r");
          ino = fstatSync(fd).ino;
          pos = 0;
          carry = new Uint8Array(0);
          continue;
        }
      } catch {
        // the file is gone (pod deleted)
        return;
      }
      if (Date.now() - idleSince > 500) {
        idleSince = Date.now();
        if (!(await stillRunning())) {
          // one last read for lines written just before the exit
          const m = readSync(fd, buf, 0, buf.length, pos);
          if (m > 0) continue;
          return;
        }
      }
      await Bun.sleep(pollMs);
    }
  } finally {
    closeSync(fd);
  }
}
