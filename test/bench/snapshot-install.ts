// `bun run bench snapinstall [--mb 128] [--chunk-kb 1024]`: a follower's memory while it
// receives and installs a snapshot from the leader. Chunks go through the wire codec to a Raft
// core over a real segment log, then the snapshot is installed (SegmentLogStorage.applySnapshot),
// once with the chunks kept in memory (as before issue 15's fix) and once written to a file as
// they arrive (what `skiff server` does). Each mode runs in its own process; the table gives the
// RSS before, its peak during the transfer and install, and the time taken.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrapEntries } from "../../server/raft/core/config";
import { Raft } from "../../server/raft/core/raft";
import { chunkCrc, MemorySnapshotReceiver } from "../../server/raft/core/snapshot-receiver";
import { message, type SnapshotMetadata } from "../../server/raft/core/types";
import { SegmentLogStorage } from "../../server/raft/storage/segment-log";
import { FileSnapshotReceiver } from "../../server/raft/storage/snapshot-file";
import { decodeBatch, encodeBatch } from "../../server/raft/transport/codec";

function arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}

interface Result {
  mode: string;
  rssBeforeMb: number;
  rssPeakMb: number;
  seconds: number;
}

async function child(mode: "memory" | "file", mb: number, chunkKb: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), "skiff-bench-snap-"));
  try {
    const storage = new SegmentLogStorage(dir);
    storage.bootstrap(bootstrapEntries([1, 2]));
    const receiver = mode === "file" ? new FileSnapshotReceiver(dir) : new MemorySnapshotReceiver();
    const raft = new Raft({ id: 2, storage, rand: () => 0.5, snapshotReceiver: receiver });
    const total = mb << 20;
    const chunk = chunkKb << 10;
    const meta: SnapshotMetadata = { index: 1000, term: 3, confState: { voters: [1, 2], learners: [] } };
    // The leader's bytes: a random block, varied per chunk (a real state.db copy would be read
    // from its mapped file; generating it here keeps the leader's pages out of the figure).
    const block = crypto.getRandomValues(new Uint8Array(chunk));
    Bun.gc(true);
    const before = process.memoryUsage().rss;
    let peak = before;
    const t0 = performance.now();
    for (let off = 0; off < total; off += chunk) {
      const data = block.slice(0, Math.min(chunk, total - off));
      data[0] = off & 0xff;
      const m = message({ type: "snap", from: 1, to: 2, term: 3, snapshot: meta, snapOffset: off, snapData: data, snapDone: off + data.length >= total, snapCrc: chunkCrc(data) });
      const wire = encodeBatch({ from: 1, cluster: "bench", messages: [m] });
      raft.step(decodeBatch(wire).messages[0]!);
      const rd = raft.ready();
      if (rd?.snapshot) storage.applySnapshot(rd.snapshot);
      if (rd) raft.advance(rd);
      peak = Math.max(peak, process.memoryUsage().rss);
      // GC at its own pace, as a server would: no forced collection during the transfer.
      if ((off / chunk) % 16 === 0) await Bun.sleep(0);
    }
    if (storage.snapshot().metadata.index !== meta.index) throw new Error("snapshot not installed");
    const seconds = (performance.now() - t0) / 1000;
    storage.close();
    return { mode, rssBeforeMb: before / 2 ** 20, rssPeakMb: peak / 2 ** 20, seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(args: string[]): Promise<void> {
  const mb = arg(args, "mb", 128);
  const chunkKb = arg(args, "chunk-kb", 1024);
  const mode = args[args.indexOf("--child") + 1];
  if (args.includes("--child")) {
    console.log(JSON.stringify(await child(mode as "memory" | "file", mb, chunkKb)));
    return;
  }
  const rows: Result[] = [];
  for (const m of ["memory", "file"]) {
    const p = Bun.spawnSync([process.execPath, import.meta.path.replace(/snapshot-install\.ts$/, "run.ts"), "snapinstall", "--child", m, "--mb", String(mb), "--chunk-kb", String(chunkKb)]);
    if (p.exitCode !== 0) throw new Error(`${m}: ${p.stderr.toString()}`);
    rows.push(JSON.parse(p.stdout.toString().trim().split("\n").at(-1)!));
  }
  console.log(`follower installing a ${mb} MB snapshot in ${chunkKb} KB chunks`);
  console.log("receiver          RSS before   RSS peak   peak - before   time");
  for (const r of rows) {
    const name = r.mode === "memory" ? "memory (before)" : "file (now)";
    console.log(
      `${name.padEnd(16)} ${r.rssBeforeMb.toFixed(0).padStart(8)} MB ${r.rssPeakMb.toFixed(0).padStart(7)} MB ${(r.rssPeakMb - r.rssBeforeMb).toFixed(0).padStart(11)} MB ${r.seconds.toFixed(2).padStart(6)} s`,
    );
  }
}
