// Default locations shared by the server, the agent and the CLI (kept tiny: the agent imports it).
import { homedir } from "node:os";
import { join } from "node:path";

/** /var/lib/skiff for root (K3s style), ~/.skiff otherwise. */
export function defaultDataDir(): string {
  return process.getuid?.() === 0 ? "/var/lib/skiff" : join(homedir(), ".skiff");
}
