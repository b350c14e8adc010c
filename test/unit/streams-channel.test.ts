// The exec channel protocols, the agent tunnel multiplexer (with flow control) and the CRI
// log formatter.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LogFormatter, parseCriLine, tailOffset, timeKey } from "../../agent/tunnel/logs.ts";
import { channelVersion, decodeChannel, encodeChannel, exitCodeStatus, pickProtocol, statusBytes, successStatus } from "../../lib/wsstream/channel.ts";
import { MAX_DATA, TunnelMux, TunnelOpenError, WINDOW, type TunnelStream } from "../../lib/wsstream/tunnel.ts";
import { splice } from "../../server/api/streams/relay.ts";
import { rejection } from "../harness/rejection.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

describe("exec channel protocol", () => {
  test("binary and base64 framing", () => {
    expect(encodeChannel(1, enc.encode("hi"))).toEqual(new Uint8Array([1, 104, 105]));
    expect(decodeChannel(new Uint8Array([255, 0]))).toEqual({ channel: 255, data: new Uint8Array([0]) });
    const t = encodeChannel(2, enc.encode("hi"), true);
    expect(t).toBe("2aGk=");
    expect(dec.decode(decodeChannel(t as string)!.data)).toBe("hi");
  });

  test("protocol choice and versions", () => {
    expect(pickProtocol(["v4.channel.k8s.io", "v5.channel.k8s.io"], ["v5.channel.k8s.io", "v4.channel.k8s.io"])).toBe("v5.channel.k8s.io");
    expect(pickProtocol(["x"], ["v5.channel.k8s.io"])).toBeNull();
    expect(channelVersion("v5.channel.k8s.io")).toBe(5);
    expect(channelVersion("channel.k8s.io")).toBe(1);
  });

  test("the exit code travels as kubectl decodes it (v4+), as text before", () => {
    const st = JSON.parse(dec.decode(statusBytes(exitCodeStatus(3), 5)));
    expect(st).toMatchObject({ kind: "Status", status: "Failure", reason: "NonZeroExitCode", details: { causes: [{ reason: "ExitCode", message: "3" }] } });
    expect(statusBytes(successStatus(), 2).length).toBe(0);
    expect(dec.decode(statusBytes(exitCodeStatus(3), 2))).toContain("exit code 3");
  });
});

function muxPair() {
  const toAgent: Uint8Array[] = [];
  let agent!: TunnelMux;
  const server = new TunnelMux({ send: (b) => queueMicrotask(() => agent.receive(b)) });
  const opened: { s: TunnelStream; req: any }[] = [];
  agent = new TunnelMux({
    send: (b) => queueMicrotask(() => server.receive(b)),
    onOpen: (s, req, accept, refuse) => {
      if ((req as any).kind === "ping") return refuse(404, "NotFound", "nope");
      opened.push({ s, req });
      accept();
    },
  });
  void toAgent;
  return { server, agent, opened };
}

describe("agent tunnel", () => {
  test("open, data both ways, END, refusal as an error", async () => {
    const { server, opened } = muxPair();
    const s = await server.open({ kind: "log", namespace: "ns", pod: "p", uid: "u", container: "c" });
    expect(opened[0]!.req.pod).toBe("p");
    let got = "";
    const done = new Promise<void>((r) => s.on({ data: (b) => (got += dec.decode(b)), end: r }));
    opened[0]!.s.write(enc.encode("line\n"));
    opened[0]!.s.end();
    await done;
    expect(got).toBe("line\n");
    const err = await server.open({ kind: "ping" }).catch((e) => e);
    expect(err).toBeInstanceOf(TunnelOpenError);
    expect(err.code).toBe(404);
  });

  test("flow control: a writer beyond the window queues until the reader delivers", async () => {
    const { server, opened } = muxPair();
    const s = await server.open({ kind: "portforward", namespace: "n", pod: "p", uid: "u", port: 80 });
    const agentSide = opened[0]!.s;
    // nobody reads on the agent side yet: handlers not set, so no credit comes back
    const big = new Uint8Array(WINDOW + 3 * MAX_DATA);
    expect(s.write(big)).toBe(false);
    expect(s.buffered).toBe(3 * MAX_DATA);
    let received = 0;
    const drained = new Promise<void>((r) => s.on({ drain: r }));
    agentSide.on({ data: (b) => (received += b.length) });
    await drained;
    await Bun.sleep(5);
    expect(s.buffered).toBe(0);
    expect(received).toBe(big.length);
  });

  test("a relay splices two tunnels: data both ways, END, and backpressure bounded by the windows", async () => {
    // kubectl side (B) ── relay mux pair ── server A ── agent mux pair ── agent
    const agentPair = muxPair();
    let relayAgent!: TunnelMux;
    const relayServer = new TunnelMux({ send: (b) => queueMicrotask(() => relayAgent.receive(b)) });
    relayAgent = new TunnelMux({
      send: (b) => queueMicrotask(() => relayServer.receive(b)),
      onOpen: (s, req, accept) => {
        void agentPair.server.open(req).then((a) => {
          accept();
          splice(s, a);
        });
      },
    });
    const s = await relayServer.open({ kind: "portforward", namespace: "n", pod: "p", uid: "u", port: 80 });
    await Bun.sleep(5);
    const agentSide = agentPair.opened[0]!.s;
    expect(agentPair.opened[0]!.req.port).toBe(80);
    // The agent writes 4 windows' worth while B reads nothing: A must not buffer it all.
    const big = new Uint8Array(4 * WINDOW).map((_, i) => i & 0xff);
    agentSide.write(big);
    await Bun.sleep(20);
    expect(agentSide.buffered).toBeGreaterThanOrEqual(2 * WINDOW);
    const got: Uint8Array[] = [];
    const ended = new Promise<void>((r) => s.on({ data: (b) => void got.push(b), end: r }));
    agentSide.end();
    await ended;
    const all = Buffer.concat(got);
    expect(all.length).toBe(big.length);
    expect(all.equals(Buffer.from(big))).toBe(true);
    // And back the other way.
    let back = "";
    const agentEnded = new Promise<void>((r) => agentSide.on({ data: (b) => void (back += dec.decode(b)), end: r }));
    s.write(enc.encode("from kubectl"));
    s.end();
    await agentEnded;
    expect(back).toBe("from kubectl");
  });

  test("keepalive: a peer that pinged and went silent is declared dead; one that never pings is not", async () => {
    let cut = false;
    let b!: TunnelMux;
    const a = new TunnelMux({ send: (x) => queueMicrotask(() => b.receive(x)) });
    b = new TunnelMux({ send: (x) => !cut && queueMicrotask(() => a.receive(x)) });
    let dead = 0;
    a.startKeepalive(10, 50, () => dead++);
    await Bun.sleep(120);
    expect(dead).toBe(0); // b never pings: an old peer is not timed out
    b.startKeepalive(10, 50, () => {});
    await Bun.sleep(60);
    cut = true;
    await Bun.sleep(150);
    expect(dead).toBe(1);
    a.close();
    b.close();
  });

  test("a stream accepted after its open timed out is reset on the accepting side", async () => {
    let server!: TunnelMux;
    let resetReason = "";
    const agent = new TunnelMux({
      send: (x) => queueMicrotask(() => server.receive(x)),
      onOpen: (st, _req, accept) => {
        st.on({ reset: (r) => (resetReason = r) });
        setTimeout(accept, 40);
      },
    });
    server = new TunnelMux({ send: (x) => queueMicrotask(() => agent.receive(x)) });
    expect((await rejection(server.open({ kind: "log", namespace: "n", pod: "p", uid: "u", container: "c" }, 10))).message).toMatch(/did not answer/);
    await Bun.sleep(80);
    expect(resetReason).not.toBe("");
    expect(agent.size).toBe(0);
  });

  test("a closed tunnel fails pending opens and resets streams", async () => {
    const { server, opened } = muxPair();
    const s = await server.open({ kind: "log", namespace: "n", pod: "p", uid: "u", container: "c" });
    const reset = new Promise<string>((r) => s.on({ reset: r }));
    server.close("gone");
    expect(await reset).toBe("gone");
    expect((await rejection(server.open({ kind: "ping" }))).message).toMatch(/closed/);
    void opened;
  });
});

describe("CRI log files", () => {
  const line = (t: string, s: string, tag: string, m: string) => enc.encode(`${t} ${s} ${tag} ${m}`);

  test("parse, partial lines joined, timestamps, since, limit", () => {
    expect(parseCriLine(line("2024-01-01T00:00:00.5Z", "stdout", "F", "hi there"))).toMatchObject({ stream: "stdout", partial: false });
    const f = new LogFormatter({ timestamps: true });
    const out = [
      f.format(line("2024-01-01T00:00:01.000000001Z", "stdout", "P", "ab")),
      f.format(line("2024-01-01T00:00:01.000000002Z", "stdout", "F", "cd")),
    ].map((b) => dec.decode(b!));
    expect(out.join("")).toBe("2024-01-01T00:00:01.000000001Z abcd\n");
    const since = new LogFormatter({ sinceKey: timeKey("2024-01-01T00:00:02Z") });
    expect(since.format(line("2024-01-01T00:00:01.999999999Z", "stdout", "F", "old"))).toBeNull();
    expect(dec.decode(since.format(line("2024-01-01T00:00:02.000000001Z", "stdout", "F", "new"))!)).toBe("new\n");
    const lim = new LogFormatter({ limitBytes: 5 });
    expect(dec.decode(lim.format(line("2024-01-01T00:00:00Z", "stdout", "F", "abc"))!)).toBe("abc\n");
    expect(dec.decode(lim.format(line("2024-01-01T00:00:00Z", "stdout", "F", "def"))!)).toBe("d");
    expect(lim.done).toBe(true);
  });

  test("tail offset counts physical lines, with or without a final newline", () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-logs-"));
    try {
      const p = join(dir, "0.log");
      const text = Array.from({ length: 10 }, (_, i) => `l${i}`).join("\n") + "\n";
      writeFileSync(p, text);
      const fd = openSync(p, "r");
      expect(text.slice(tailOffset(fd, text.length, 2))).toBe("l8\nl9\n");
      expect(tailOffset(fd, text.length, 100)).toBe(0);
      expect(tailOffset(fd, text.length, 0)).toBe(text.length);
      const noNl = text.slice(0, -1);
      writeFileSync(p, noNl);
      const fd2 = openSync(p, "r");
      expect(noNl.slice(tailOffset(fd2, noNl.length, 1))).toBe("l9");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
