// Rules for the tests themselves.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");

// In Bun 1.4, `await expect(p).resolves.toBe(x)` (and `.rejects`) waits for p in a nested event
// loop that runs the setImmediate callbacks queued since the current batch began before the rest
// of that batch. Reproduced: queue immediates 1, 2, 3; in 1, resolve what the test awaits and queue
// 4; the test then does `await expect(later).resolves.toBe(true)`: 4 has run, 2 and 3 have not.
// With `expect(await later).toBe(true)` the order is 1, 2, 3, 4. Playwright's in-process
// connection delivers each message with setImmediate, so this reordered its messages (the
// dashboard test failed in CI on "Object with guid response@… was not bound in the connection").
// `expect(async () => …).toThrow()` waits for the function's promise the same way.
test("no test uses expect(promise).resolves, .rejects or expect(async fn) (use `expect(await p)`, harness/rejection.ts or harness/wait.ts)", () => {
  const offenders: string[] = [];
  for (const f of new Bun.Glob("**/*.ts").scanSync({ cwd: join(ROOT, "test") })) {
    if (f === "unit/test-rules.test.ts") continue;
    readFileSync(join(ROOT, "test", f), "utf8")
      .split("\n")
      .forEach((line, i) => {
        if (!/^\s*(\/\/|\*)/.test(line) && (/\)\s*\.(resolves|rejects)\b/.test(line) || /expect\(\s*async\b/.test(line))) offenders.push(`test/${f}:${i + 1}: ${line.trim()}`);
      });
  }
  expect(offenders).toEqual([]);
});
