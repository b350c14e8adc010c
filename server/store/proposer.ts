// How the store commits a command: through Raft (server/raft, replicated first), or a local
// proposer for a store of one (tests, tools) that applies at once.
import type { ApplyResult, Command } from "./commands";

export interface Proposer {
  propose(cmd: Command): Promise<ApplyResult>;
}

type Apply = (index: number, cmds: Command[]) => ApplyResult[];

/**
 * A cluster of one: proposals made in the same tick are applied together in one SQLite
 * transaction (group commit: one fsync for many writes).
 */
export class LocalProposer implements Proposer {
  private queue: { cmd: Command; resolve: (r: ApplyResult) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly applyEntry: Apply,
    private nextIndex: () => number,
  ) {}

  propose(cmd: Command): Promise<ApplyResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ cmd, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    try {
      const results = this.applyEntry(this.nextIndex(), batch.map((b) => b.cmd));
      batch.forEach((b, i) => b.resolve(results[i]!));
    } catch (e) {
      for (const b of batch) b.reject(e);
    }
  }
}
