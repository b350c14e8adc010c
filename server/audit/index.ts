// kube-apiserver's audit flags, turned into the Auditor the API app runs: no --audit-log-path,
// or no --audit-policy-file, and nothing is audited (upstream logs nothing without a policy).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { BatchBackend } from "./backend";
import { parsePolicy, PolicyError, type AuditPolicy } from "./policy";
import { FileSink, stdoutSink } from "./sinks";

/** What the request's handlers add to its event (server/api/audit.ts makes one per request). */
export interface AuditContext {
  auditID: string;
  annotations: Record<string, string>;
  /** The object's name when the URL has none (a create): set by the registry. */
  name?: string;
}

export interface Auditor {
  policy: AuditPolicy;
  backend: BatchBackend;
}

export interface AuditFlags {
  /** --audit-log-path: a file, or "-" for stdout. */
  logPath?: string;
  /** --audit-policy-file */
  policyFile?: string;
  /** --audit-log-maxage (days), --audit-log-maxbackup (files), --audit-log-maxsize (MB). */
  maxAge?: number;
  maxBackup?: number;
  maxSize?: number;
}

/** The auditor of these flags, undefined when they ask for none; throws a message saying what to fix. */
export function openAuditor(f: AuditFlags): (Auditor & { shutdown(): Promise<void> }) | undefined {
  if (!f.logPath || !f.policyFile) return undefined;
  let text: string;
  try {
    text = readFileSync(f.policyFile, "utf8");
  } catch (e) {
    throw new Error(`--audit-policy-file ${f.policyFile}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  let policy;
  try {
    policy = parsePolicy(text);
  } catch (e) {
    if (e instanceof PolicyError) throw new Error(`--audit-policy-file ${f.policyFile}: ${e.message}`);
    throw e;
  }
  for (const [flag, v] of [["--audit-log-maxage", f.maxAge], ["--audit-log-maxbackup", f.maxBackup], ["--audit-log-maxsize", f.maxSize]] as const)
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw new Error(`${flag}: must be a whole number >= 0${Number.isNaN(v) ? "" : `, got ${v}`}`);
  const sink = f.logPath === "-" ? stdoutSink() : new FileSink(resolve(f.logPath), { maxSizeMB: f.maxSize ?? 0, maxBackups: f.maxBackup ?? 0, maxAgeDays: f.maxAge ?? 0 });
  const backend = new BatchBackend(sink);
  return { policy, backend, shutdown: () => backend.shutdown() };
}
