// `skiff upgrade --binary FILE`: replace the installed binary and restart the service, the K3s
// habit (put the new binary in place, restart the unit) with the safety net automated: the
// previous binary is kept (<bin>.previous), the new version must become ready with the data
// dir (the server records the version it became ready with, after snapshotting the store and
// migrating it: server/store/backup/upgrade.ts), and if it does not, the previous binary is
// put back and restarted (the server, for its part, has restored the store from the snapshot).
import { execFileSync, spawnSync } from "node:child_process";
import { accessSync, chmodSync, constants, copyFileSync, existsSync, renameSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { flagValue } from "../host/processes";
import { DEFAULT_BIN, installedUnits, systemdRunning, unitName } from "../host/systemd";
import { DEFAULT_READY_TIMEOUT_S, readUpgrade, readVersion } from "../../server/store/backup/upgrade";

const USAGE = `Usage: skiff upgrade --binary FILE [flags]

Upgrades the installed Skiff server: the binary is replaced by FILE (the previous one is kept as
<bin>.previous) and the service restarted. The new version snapshots the store before migrating
it; this command waits until it is ready with the data dir. If it is not (it failed, or was not
ready within its --upgrade-ready-timeout), the server restores the store from that snapshot and
this command puts the previous binary back, restarts it, and fails.

Flags:
  --binary FILE           The new skiff binary
  --bin PATH              The installed binary (default: the unit's ExecStart, else ${DEFAULT_BIN})
  --data-dir DIR          The server's data dir (default: the unit's --data-dir, else /var/lib/skiff)
  --unit NAME             The service to restart (default skiff.service)
  --restart-command CMD   How to restart the service where systemd does not run (run with sh -c)
  --timeout S             Seconds to wait for each version to be ready (default: the server's
                          --upgrade-ready-timeout + 60)`;

const VERSION_LINE = /skiff version v(\S+)/;

/** The version a skiff binary reports (it is run: a binary for another machine fails here). */
function versionOf(bin: string): string {
  let out: string;
  try {
    out = execFileSync(bin, ["version"], { encoding: "utf8", timeout: 30_000, stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    throw new Error(`${bin} does not run here (${((e as { stderr?: string }).stderr || (e as Error).message).trim().split("\n")[0]}): is it a skiff binary for this machine?`);
  }
  const m = VERSION_LINE.exec(out);
  if (!m) throw new Error(`${bin} is not a skiff binary ("version" printed: ${out.trim().slice(0, 80)})`);
  return m[1]!;
}

/** Put `src` at `dst` in one rename (a running process keeps the file it was started from). */
function placeBinary(src: string, dst: string): void {
  const tmp = `${dst}.upgrade-tmp`;
  copyFileSync(src, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, dst);
}

type Outcome = { ok: true } | { ok: false; reason: string };

/**
 * Wait until the server in `serverDir` has become ready with `version` since `since`, or its
 * upgrade to `version` is noted as failed, or `timeoutS` pass.
 */
async function waitReady(serverDir: string, version: string, since: number, timeoutS: number): Promise<Outcome> {
  const end = Date.now() + timeoutS * 1000;
  while (Date.now() < end) {
    const v = readVersion(serverDir);
    if (v?.version === version && v.ready && Date.parse(v.ready) >= since) return { ok: true };
    const u = readUpgrade(serverDir);
    if (u?.failed && u.to === version && Date.parse(u.failed.at) >= since) return { ok: false, reason: u.failed.reason };
    await Bun.sleep(500);
  }
  return { ok: false, reason: `not ready within ${timeoutS} s` };
}

export async function run(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        binary: { type: "string" },
        bin: { type: "string" },
        "data-dir": { type: "string" },
        unit: { type: "string" },
        "restart-command": { type: "string" },
        timeout: { type: "string" },
        root: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n\n${USAGE}`);
    return 1;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.binary) {
    console.error(`error: give the new binary: --binary FILE\n\n${USAGE}`);
    return 1;
  }
  const unitNameWanted = values.unit ?? unitName("server");
  const unit = installedUnits(values.root ?? "/").find((u) => u.name === unitNameWanted);
  if (unit && unit.mode !== "server") {
    console.error(`error: ${unit.name} runs a Skiff agent: skiff upgrade upgrades a server (an agent has no store to migrate: replace its binary and restart it)`);
    return 1;
  }
  const bin = values.bin ?? unit?.bin ?? DEFAULT_BIN;
  const dataDir = (values["data-dir"] ?? unit?.dataDir ?? "/var/lib/skiff").replace(/\/+$/, "");
  const serverDir = `${dataDir}/server`;
  const serverTimeout = Number((unit && flagValue(unit.args, "--upgrade-ready-timeout")) ?? DEFAULT_READY_TIMEOUT_S);
  const timeoutS = values.timeout !== undefined ? Number(values.timeout) : serverTimeout + 60;
  if (!(timeoutS > 0)) {
    console.error(`error: --timeout must be a number of seconds, got "${values.timeout}"`);
    return 1;
  }
  const restartCmd = values["restart-command"];
  if (!restartCmd && !systemdRunning()) {
    console.error("error: systemd is not running here: say how to restart the server with --restart-command CMD");
    return 1;
  }
  try {
    accessSync(values.binary, constants.X_OK);
    if (!statSync(values.binary).isFile()) throw new Error("not a file");
  } catch {
    console.error(`error: --binary ${values.binary}: not an executable file`);
    return 1;
  }
  if (!existsSync(bin)) {
    console.error(`error: ${bin}: no installed skiff binary there (give --bin PATH, or install with skiff install)`);
    return 1;
  }
  // A server from before version records has a store but no version.json.
  const recorded = existsSync(`${serverDir}/version.json`);
  if (!recorded && !existsSync(`${serverDir}/db/state.db`)) {
    console.error(`error: ${dataDir} holds no server's data (no ${serverDir}/db/state.db): give --data-dir DIR`);
    return 1;
  }
  let oldVersion: string;
  let newVersion: string;
  try {
    oldVersion = versionOf(bin);
    newVersion = versionOf(values.binary);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
  if (oldVersion === newVersion) {
    console.log(`${bin} is already Skiff ${newVersion}: nothing to do`);
    return 0;
  }
  const restart = (): void => {
    const r = restartCmd ? spawnSync("sh", ["-c", restartCmd], { stdio: "inherit" }) : spawnSync("systemctl", ["restart", unitNameWanted], { stdio: "inherit" });
    if (r.status !== 0) throw new Error(`restarting the server failed (${restartCmd ? `"${restartCmd}"` : `systemctl restart ${unitNameWanted}`} exited ${r.status ?? r.signal})`);
  };

  const previous = `${bin}.previous`;
  copyFileSync(bin, previous);
  chmodSync(previous, 0o755);
  placeBinary(values.binary, bin);
  console.log(`Skiff ${oldVersion} -> ${newVersion}: ${bin} replaced (the previous binary is kept as ${previous}); restarting`);
  let since = Date.now();
  let outcome: Outcome;
  try {
    restart();
    outcome = await waitReady(serverDir, newVersion, since, timeoutS);
  } catch (e) {
    outcome = { ok: false, reason: (e as Error).message };
  }
  if (outcome.ok) {
    const snap = readVersion(serverDir);
    console.log(`Skiff ${newVersion} is ready with ${dataDir} (since ${snap?.ready}); the store's snapshot from before the upgrade is in its snapshot dir (pre-upgrade-${oldVersion}-${newVersion}-*)`);
    return 0;
  }
  console.error(`Skiff ${newVersion} did not become ready: ${outcome.reason}. Putting Skiff ${oldVersion} back.`);
  placeBinary(previous, bin);
  since = Date.now();
  try {
    restart();
  } catch (e) {
    console.error(`error: ${(e as Error).message}; ${bin} is Skiff ${oldVersion} again: restart the service by hand`);
    return 1;
  }
  if (!recorded) {
    console.error(`error: the upgrade to Skiff ${newVersion} failed (${outcome.reason}); Skiff ${oldVersion} is back in ${bin} and restarted, its store restored from the snapshot taken before the upgrade. It does not record when it is ready: check it (kubectl get --raw /readyz)`);
    return 1;
  }
  const back = await waitReady(serverDir, oldVersion, since, timeoutS);
  if (!back.ok) {
    console.error(`error: Skiff ${oldVersion} is back in ${bin} but did not become ready either (${back.reason}): see the server's log (journalctl -u ${unitNameWanted})`);
    return 1;
  }
  console.error(`error: the upgrade to Skiff ${newVersion} failed (${outcome.reason}); Skiff ${oldVersion} runs again, its store restored from the snapshot taken before the upgrade (and brought up to date from the Raft log: writes acknowledged meanwhile are kept)`);
  return 1;
}
