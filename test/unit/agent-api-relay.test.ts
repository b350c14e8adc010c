// The node's API relay (kubernetes.default.svc:443 for pods): who may use it, and that it relays
// both ways, also to a client that half-closes after its request.
import { expect, test } from "bun:test";
import { connect } from "node:net";
import { ApiRelay, relayAllows } from "../../agent/services/api-relay.ts";

test("this node's pods and the node itself may connect; other pods and LAN hosts may not", () => {
  const local = new Set(["10.42.0.1", "192.168.1.5", "127.0.0.1"]);
  expect(relayAllows("10.42.0.17", "10.42.0.0/24", local)).toBe(true);
  expect(relayAllows("::ffff:10.42.0.17", "10.42.0.0/24", local)).toBe(true);
  expect(relayAllows("192.168.1.5", "10.42.0.0/24", local)).toBe(true);
  expect(relayAllows("10.42.1.17", "10.42.0.0/24", local)).toBe(false); // a pod of another node
  expect(relayAllows("192.168.1.9", "10.42.0.0/24", local)).toBe(false); // a LAN host
});

test("bytes go both ways to the server in use; a half-closed client still gets the answer", async () => {
  const up = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: { data: (s, d) => void s.write(`echo:${d.toString()}`) },
  });
  const relay = new ApiRelay({ address: "127.0.0.1", port: 0, podCidr: "10.99.0.0/24", server: () => `https://127.0.0.1:${up.port}`, log: () => {} });
  try {
    await relay.start();
    const got = await new Promise<string>((resolve, reject) => {
      let out = "";
      const c = connect({ host: "127.0.0.1", port: relay.boundPort, allowHalfOpen: true });
      c.on("connect", () => c.end("hello"));
      c.on("data", (d) => (out += d.toString()));
      c.on("end", () => resolve(out));
      c.on("error", reject);
      setTimeout(() => resolve(out), 3000);
    });
    expect(got).toBe("echo:hello");
    expect(relay.connections).toBe(1);
  } finally {
    relay.stop();
    up.stop(true);
  }
});
