import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
// Relative: a package dependency on devstack would make a cycle (devstack -> core -> skills).
import { startFakeInternalApi, type FakeInternalApi } from "@clawgate/devstack/fake-internal-api";
import { kbSearch } from "../builtin.ts";
import { runSkill } from "../handler.ts";
import { testContext } from "../test-context.ts";
import { kbSearchHandler } from "./kb-search.ts";
import { internalApiBreakers } from "./internal-api.ts";

let api: FakeInternalApi;
const HALF_OPEN_MS = 400;
beforeAll(async () => {
  api = await startFakeInternalApi({ port: 0 });
  internalApiBreakers.configure({ failures: 3, halfOpenAfterMs: HALF_OPEN_MS });
});
afterAll(() => api.close());
beforeEach(() => {
  internalApiBreakers.reset();
  api.requests.length = 0;
  api.setFault(null);
});

const search = (baseUrl = api.url) =>
  runSkill(kbSearch, kbSearchHandler, { query: "vpn" }, testContext({ settings: { baseUrl } })).then((o) => o.result);
const key = () => api.url.replace(/\/+$/, "");
const breakerOpen = () => internalApiBreakers.states().find((s) => s.name === `internal_api:${key()}`)?.open;

describe("the internal API's circuit breaker", () => {
  it("opens after consecutive 5xx, answers at once without a request, and closes after a healthy trial", async () => {
    api.setFault({ mode: "error500" });
    for (let i = 0; i < 3; i++)
      expect(await search()).toMatchObject({ ok: false, error: "the internal API answered HTTP 500" });
    expect(api.requests).toHaveLength(3);
    expect(breakerOpen()).toBe(true);

    api.setFault(null);
    const refused = await search();
    expect(refused).toEqual({
      ok: false,
      error: `the internal API (${key()}) is unavailable right now after repeated failures; try again in a few minutes`,
      retryable: true,
    });
    expect(api.requests).toHaveLength(3); // refused without sending anything

    await new Promise((r) => setTimeout(r, HALF_OPEN_MS + 50));
    expect(await search()).toMatchObject({ ok: true });
    expect(breakerOpen()).toBe(false);
    expect(api.requests).toHaveLength(4);
  });

  it("opens again when the trial call fails", async () => {
    api.setFault({ mode: "error500" });
    for (let i = 0; i < 3; i++) await search();
    await new Promise((r) => setTimeout(r, HALF_OPEN_MS + 50));
    expect(await search()).toMatchObject({ ok: false, error: "the internal API answered HTTP 500" });
    expect(api.requests).toHaveLength(4);
    expect(await search()).toMatchObject({ ok: false, error: expect.stringContaining("unavailable right now") });
    expect(api.requests).toHaveLength(4);
  });

  it("counts timeouts and refused connections, not 4xx answers", async () => {
    const down = await startFakeInternalApi({ port: 0 });
    await down.close();
    for (let i = 0; i < 3; i++)
      expect(await search(down.url)).toMatchObject({ error: "the internal API is unreachable" });
    expect(await search(down.url)).toMatchObject({ error: expect.stringContaining("unavailable right now") });
    // The other base URL has a breaker of its own.
    expect(await search()).toMatchObject({ ok: true });

    // 401s (a token the API refuses) are answers, not an unhealthy API.
    const guarded = await startFakeInternalApi({ port: 0, token: "t" });
    try {
      for (let i = 0; i < 5; i++) {
        const out = await runSkill(
          kbSearch,
          kbSearchHandler,
          { query: "vpn" },
          testContext({ settings: { baseUrl: guarded.url } }),
        );
        expect(out.result).toMatchObject({ ok: false, error: "the internal API refused our credentials" });
      }
      expect(guarded.requests).toHaveLength(5);
    } finally {
      await guarded.close();
    }

    api.setFault({ mode: "slow", delayMs: 5_000 });
    for (let i = 0; i < 3; i++) {
      const out = await runSkill(
        { ...kbSearch, timeoutMs: 100 },
        kbSearchHandler,
        { query: "vpn" },
        testContext({ settings: { baseUrl: api.url } }),
      );
      expect(out.result).toMatchObject({ error: "kb.search timed out after 100 ms" });
    }
    await new Promise((r) => setTimeout(r, 20)); // the aborted fetches settle
    expect(breakerOpen()).toBe(true);
  });
});
