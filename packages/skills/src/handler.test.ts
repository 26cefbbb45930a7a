import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { fail, runSkill, SkillCache, type SkillHandler } from "./handler.ts";
import { defineSkill } from "./manifest.ts";
import { testContext } from "./test-context.ts";

const read = defineSkill({
  key: "test.read",
  description: "x",
  riskClass: "READ",
  requiresApproval: false,
  enabledByDefault: true,
  timeoutMs: 200,
  cacheTtlSeconds: 60,
  settings: z.object({}),
  input: z.object({ q: z.string().min(2), n: z.number().int().default(1) }),
});

function counting(result: (n: number) => ReturnType<typeof fail> | { ok: true; content: string }) {
  const calls: unknown[] = [];
  const handler: SkillHandler<unknown> = async (input) => {
    calls.push(input);
    return result(calls.length);
  };
  return { handler, calls };
}

describe("runSkill", () => {
  it("rejects invalid input with a result, without calling the handler", async () => {
    const { handler, calls } = counting(() => ({ ok: true, content: "x" }));
    const out = await runSkill(read, handler, { q: "a" }, testContext());
    expect(out.result).toMatchObject({ ok: false, retryable: false });
    expect(out.result.ok === false && out.result.error).toMatch(/invalid input for test.read: q:/);
    expect(calls).toEqual([]);
  });

  it("passes the parsed input (defaults applied) to the handler", async () => {
    const { handler, calls } = counting(() => ({ ok: true, content: "x" }));
    await runSkill(read, handler, { q: "hello" }, testContext());
    expect(calls).toEqual([{ q: "hello", n: 1 }]);
  });

  it("times out a handler that ignores its signal, as a retryable failure", async () => {
    let sawAbort = false;
    const slow: SkillHandler<unknown> = (_i, ctx) =>
      new Promise((resolve) => {
        ctx.signal.addEventListener("abort", () => (sawAbort = true));
        setTimeout(() => resolve({ ok: true, content: "late" }), 2_000);
      });
    const out = await runSkill(read, slow, { q: "hello" }, testContext());
    expect(out.result).toEqual({ ok: false, error: "test.read timed out after 200 ms", retryable: true });
    expect(sawAbort).toBe(true);
    expect(out.latencyMs).toBeGreaterThanOrEqual(190);
    expect(out.latencyMs).toBeLessThan(1_000);
  });

  it("reports a caller's cancellation", async () => {
    const ac = new AbortController();
    const never: SkillHandler<unknown> = () => new Promise(() => {});
    setTimeout(() => ac.abort(), 20);
    const out = await runSkill(read, never, { q: "hello" }, testContext({ signal: ac.signal }));
    expect(out.result).toEqual({ ok: false, error: "test.read was cancelled", retryable: true });
  });

  it("leaves no listeners on a long-lived caller signal, and skips the handler once it is aborted", async () => {
    const shutdown = new AbortController();
    const { handler, calls } = counting(() => ({ ok: true, content: "x" }));
    for (let i = 0; i < 3; i++) await runSkill(read, handler, { q: "hello" }, testContext({ signal: shutdown.signal }));
    expect(getEventListeners(shutdown.signal, "abort")).toHaveLength(0);
    shutdown.abort();
    const out = await runSkill(read, handler, { q: "hello" }, testContext({ signal: shutdown.signal }));
    expect(out.result).toEqual({ ok: false, error: "test.read was cancelled", retryable: true });
    expect(calls).toHaveLength(3);
  });

  it("turns a thrown error into a failed result", async () => {
    const boom: SkillHandler<unknown> = async () => {
      throw new Error("boom");
    };
    const out = await runSkill(read, boom, { q: "hello" }, testContext());
    expect(out.result).toEqual({ ok: false, error: "test.read failed: boom", retryable: false });
  });

  it("serves a repeated read from the cache until the TTL passes", async () => {
    const { handler, calls } = counting((n) => ({ ok: true, content: `answer ${n}` }));
    const cache = new SkillCache();
    const ctx = testContext();
    const first = await runSkill(read, handler, { q: "hello", n: 1 }, ctx, { cache });
    // Same input, keys in another order and the default spelled out: one entry.
    const second = await runSkill(read, handler, { n: 1, q: "hello" }, ctx, { cache });
    expect(first).toMatchObject({ cacheHit: false, result: { content: "answer 1" } });
    expect(second).toMatchObject({ cacheHit: true, result: { content: "answer 1" } });
    ctx.clock.t += 59_999;
    expect((await runSkill(read, handler, { q: "hello" }, ctx, { cache })).cacheHit).toBe(true);
    ctx.clock.t += 1;
    const expired = await runSkill(read, handler, { q: "hello" }, ctx, { cache });
    expect(expired).toMatchObject({ cacheHit: false, result: { content: "answer 2" } });
    expect(calls).toHaveLength(2);
  });

  it("keys the cache on input and settings", async () => {
    const { handler, calls } = counting((n) => ({ ok: true, content: `answer ${n}` }));
    const cache = new SkillCache();
    await runSkill(read, handler, { q: "hello" }, testContext(), { cache });
    await runSkill(read, handler, { q: "other" }, testContext(), { cache });
    await runSkill(read, handler, { q: "hello" }, testContext({ settings: { allowedHosts: [] } }), { cache });
    expect(calls).toHaveLength(3);
  });

  it("does not cache failures", async () => {
    const { handler, calls } = counting((n) => (n === 1 ? fail("down", true) : { ok: true, content: "up" }));
    const cache = new SkillCache();
    const ctx = testContext();
    expect((await runSkill(read, handler, { q: "hello" }, ctx, { cache })).result.ok).toBe(false);
    const again = await runSkill(read, handler, { q: "hello" }, ctx, { cache });
    expect(again).toMatchObject({ cacheHit: false, result: { ok: true } });
    expect(calls).toHaveLength(2);
    expect(cache.size).toBe(1);
  });

  it("caches only READ skills with a TTL", async () => {
    const uncached = [
      { ...read, cacheTtlSeconds: 0 },
      defineSkill({ ...read, key: "test.write", riskClass: "WRITE", cacheTtlSeconds: 0 }),
      // A manifest that bypassed defineSkill must still not cache a write.
      { ...read, key: "test.write2", riskClass: "WRITE" as const },
    ];
    for (const manifest of uncached) {
      const { handler, calls } = counting(() => ({ ok: true, content: "x" }));
      const cache = new SkillCache();
      const ctx = testContext();
      await runSkill(manifest, handler, { q: "hello" }, ctx, { cache });
      const again = await runSkill(manifest, handler, { q: "hello" }, ctx, { cache });
      expect(again.cacheHit, manifest.key).toBe(false);
      expect(calls, manifest.key).toHaveLength(2);
      expect(cache.size).toBe(0);
    }
  });
});
