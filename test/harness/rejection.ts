// Tests here never write `await expect(p).rejects…` or `.resolves…`: in Bun 1.4 those matchers
// wait for the promise in a nested event loop, and that loop runs setImmediate callbacks queued
// later before those queued earlier (test/unit/test-rules.test.ts keeps them out). Playwright's
// in-process connection delivers every message with setImmediate, so the dashboard test once
// got an event naming a Response whose creation message was still queued: "Object with guid
// response@… was not bound in the connection" (CI, stop 22). Await the promise, then expect.

/** The error `p` rejects with; throws when `p` resolves instead. */
export async function rejection(p: Promise<unknown>): Promise<Error & Record<string, any>> {
  let value: unknown;
  try {
    value = await p;
  } catch (e) {
    return e as Error & Record<string, any>;
  }
  throw new Error(`expected the promise to reject, it resolved with ${JSON.stringify(value)?.slice(0, 200)}`);
}
