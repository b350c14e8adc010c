// A follower writes the snapshot the leader sends to a file in the Raft directory as its chunks
// arrive (the core has checked their order and checksums), so memory stays bounded by one chunk
// whatever the size of the state. The finished file becomes snap-<index>.db by a rename
// (SegmentLogStorage.applySnapshot) and is copied to state.db by the kernel; its bytes are only
// mapped if somebody reads them. Partial files of a transfer cut short by a crash are removed
// at the next start.
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { SnapshotReceiver } from "../core/snapshot-receiver";
import type { Snapshot, SnapshotMetadata } from "../core/types";

const PARTIAL = /^recv-\d+-\d+\.db\.part$/;
const EMPTY = new Uint8Array();

/** A received snapshot whose body is a file (renamed into place, not rewritten). */
export class ReceivedSnapshot implements Snapshot {
  private bytes: Uint8Array | undefined;
  constructor(
    readonly metadata: SnapshotMetadata,
    readonly file: string,
  ) {}
  get data(): Uint8Array {
    this.bytes ??= existsSync(this.file) && statSync(this.file).size > 0 ? Bun.mmap(this.file, { shared: false }) : EMPTY;
    return this.bytes;
  }
}

export function isReceivedSnapshot(s: Snapshot): s is ReceivedSnapshot {
  return s instanceof ReceivedSnapshot;
}

export class FileSnapshotReceiver implements SnapshotReceiver {
  private fd = -1;
  private path: string | undefined;
  private written = 0;
  private seq = 0;

  constructor(private readonly dir: string) {
    for (const f of existsSync(dir) ? readdirSync(dir) : []) {
      if (PARTIAL.test(f)) unlinkSync(join(dir, f));
    }
  }

  begin(meta: SnapshotMetadata): void {
    this.abort();
    this.path = join(this.dir, `recv-${String(meta.index).padStart(16, "0")}-${++this.seq}.db.part`);
    this.fd = openSync(this.path, "w", 0o600);
    this.written = 0;
  }

  append(data: Uint8Array): void {
    if (this.fd < 0) throw new Error("snapshot chunk without a transfer in progress");
    for (let off = 0; off < data.length; ) off += writeSync(this.fd, data, off, data.length - off, this.written + off);
    this.written += data.length;
  }

  finish(meta: SnapshotMetadata, length: number): Snapshot {
    if (this.fd < 0 || !this.path) throw new Error("snapshot finished without a transfer in progress");
    if (this.written !== length) throw new Error(`snapshot file has ${this.written} bytes, the leader sent ${length}`);
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
    const s = new ReceivedSnapshot(meta, this.path);
    // From here the file is the snapshot's: abort() no longer removes it (discard() does).
    this.path = undefined;
    return s;
  }

  abort(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    if (this.path) rm(this.path);
    this.path = undefined;
  }

  discard(s: Snapshot): void {
    if (isReceivedSnapshot(s)) rm(s.file);
  }
}

function rm(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}
