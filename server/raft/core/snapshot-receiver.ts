// Where a follower puts the chunks of a snapshot the leader sends (InstallSnapshot). The core
// does no I/O: it checks order and checksums and hands the bytes on; the driver gives it a
// receiver that writes them to a file (server/raft/storage/snapshot-file.ts), so a snapshot is
// never held in memory whole. This one keeps them in memory (the core's tests, the simulator).
import type { Snapshot, SnapshotMetadata } from "./types";

export interface SnapshotReceiver {
  /** A transfer of the snapshot `meta` starts at offset 0; a partial earlier one is dropped. */
  begin(meta: SnapshotMetadata): void;
  /** The next chunk (the core has checked its offset and checksum). */
  append(data: Uint8Array): void;
  /** Every byte (`length` in all) has come: the snapshot to restore. */
  finish(meta: SnapshotMetadata, length: number): Snapshot;
  /** The partial transfer is dropped. */
  abort(): void;
  /** A finished snapshot that was not restored (the log had it already) is dropped. */
  discard(s: Snapshot): void;
}

export class MemorySnapshotReceiver implements SnapshotReceiver {
  private chunks: Uint8Array[] = [];

  begin(): void {
    this.chunks = [];
  }

  append(data: Uint8Array): void {
    this.chunks.push(data);
  }

  finish(meta: SnapshotMetadata, length: number): Snapshot {
    const whole = new Uint8Array(length);
    let off = 0;
    for (const c of this.chunks) {
      whole.set(c, off);
      off += c.length;
    }
    this.chunks = [];
    return { metadata: meta, data: whole };
  }

  abort(): void {
    this.chunks = [];
  }

  discard(): void {}
}

/** The checksum a snapshot chunk carries (CRC-32 of its bytes). */
export function chunkCrc(data: Uint8Array): number {
  return data.length ? Bun.hash.crc32(data) >>> 0 : 0;
}
