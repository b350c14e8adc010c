// --disable and the ingress ports: a bad value is a usage error before anything starts.
import { afterEach, expect, spyOn, test } from "bun:test";
import { main } from "../../cli/main";

const errors: string[] = [];
const spy = spyOn(console, "error").mockImplementation((...a: unknown[]) => void errors.push(a.join(" ")));
afterEach(() => {
  errors.length = 0;
});

test("server: unknown components and bad ports are refused, saying what is known", async () => {
  expect(await main(["server", "--disable", "dns"])).toBe(1);
  expect(errors.join("\n")).toContain("--disable dns: unknown component (known: ingress, servicelb)");
  expect(await main(["server", "--ingress-http-port", "0"])).toBe(1);
  expect(errors.join("\n")).toContain("must be port numbers");
  expect(await main(["server", "--ingress-http-port", "8443", "--ingress-https-port", "8443"])).toBe(1);
  expect(errors.join("\n")).toContain("must differ");
});

test("agent: only ingress can be disabled (servicelb is the server's)", async () => {
  expect(await main(["agent", "--disable", "servicelb"])).toBe(1);
  expect(errors.join("\n")).toContain("--disable servicelb: unknown component (known: ingress)");
  spy.mockRestore();
});
