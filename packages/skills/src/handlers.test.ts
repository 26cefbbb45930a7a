import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
// Relative: a package dependency on devstack would make a cycle (devstack -> core -> skills).
import { startFakeInternalApi, type FakeInternalApi } from "@clawgate/devstack/fake-internal-api";
import { groupAnnounce, help, kbSearch, status, ticketCreate, ticketLookup } from "./builtin.ts";
import { runSkill, SkillCache, type SkillContext } from "./handler.ts";
import { BUILTIN_HANDLERS } from "./handlers/index.ts";
import { testContext } from "./test-context.ts";
import type { SkillManifest } from "./manifest.ts";
import { traceIdHex } from "./traceparent.ts";

let api: FakeInternalApi;
const TOKEN = "s3cret-internal-token";
beforeAll(async () => {
  api = await startFakeInternalApi({ port: 0, token: TOKEN });
});
afterAll(() => api.close());
beforeEach(() => {
  api.requests.length = 0;
  api.setFault(null);
});

const apiCtx = (overrides: Partial<SkillContext> = {}) =>
  testContext({
    settings: { baseUrl: api.url, tokenEnv: "INTERNAL_API_TOKEN" },
    getSecret: (name) => (name === "INTERNAL_API_TOKEN" ? TOKEN : undefined),
    ...overrides,
  });
const run = (m: SkillManifest, input: unknown, ctx: SkillContext, cache?: SkillCache) =>
  runSkill(m, BUILTIN_HANDLERS[m.key]!, input, ctx, cache ? { cache } : {});

describe("kb.search", () => {
  it("finds English and Chinese articles, sending the bearer token", async () => {
    const en = await run(kbSearch, { query: "vpn", limit: 2 }, apiCtx());
    expect(en.result.ok).toBe(true);
    expect(en.result.ok && en.result.content).toMatch(
      /^1\. VPN setup on macOS and Windows \(https:\/\/kb\.example\.internal\/vpn-setup\)/,
    );
    expect(en.result.ok && (en.result.data as { results: unknown[] }).results).toHaveLength(2);
    expect(api.requests[0]).toMatchObject({
      method: "GET",
      path: "/kb/search",
      query: { q: "vpn", limit: "2" },
      authorization: `Bearer ${TOKEN}`,
    });
    const zh = await run(kbSearch, { query: "请假" }, apiCtx());
    expect(zh.result.ok && zh.result.content).toContain("请假流程说明");
  });

  it("sends the message's trace id on as W3C traceparent", async () => {
    const id = "4bf92f3577b34da6a3ce929d0e0e4736";
    await run(kbSearch, { query: "vpn" }, apiCtx({ traceId: `${id}:call-1` }));
    expect(api.requests[0]?.traceparent).toMatch(new RegExp(`^00-${id}-[0-9a-f]{16}-01$`));
    await run(kbSearch, { query: "printer" }, apiCtx({ traceId: "not-hex" }));
    expect(api.requests[1]?.traceparent).toMatch(new RegExp(`^00-${traceIdHex("not-hex")}-[0-9a-f]{16}-01$`));
  });

  it("says so when nothing matches", async () => {
    const out = await run(kbSearch, { query: "quantum teleporter" }, apiCtx());
    expect(out.result).toMatchObject({ ok: true, content: 'No knowledge base articles match "quantum teleporter".' });
  });

  it("serves a repeat from the cache without calling the API", async () => {
    const cache = new SkillCache();
    const ctx = apiCtx();
    expect((await run(kbSearch, { query: "password" }, ctx, cache)).cacheHit).toBe(false);
    expect((await run(kbSearch, { query: "password" }, ctx, cache)).cacheHit).toBe(true);
    expect(api.requests).toHaveLength(1);
    ctx.clock.t += kbSearch.cacheTtlSeconds * 1_000;
    expect((await run(kbSearch, { query: "password" }, ctx, cache)).cacheHit).toBe(false);
    expect(api.requests).toHaveLength(2);
  });

  it("maps a 500 to a retryable failure that is not cached", async () => {
    const cache = new SkillCache();
    api.setFault({ mode: "error500", count: 1 });
    const failed = await run(kbSearch, { query: "vpn" }, apiCtx(), cache);
    expect(failed.result).toEqual({ ok: false, error: "the internal API answered HTTP 500", retryable: true });
    const next = await run(kbSearch, { query: "vpn" }, apiCtx(), cache);
    expect(next).toMatchObject({ cacheHit: false, result: { ok: true } });
  });

  it("times out on a slow API", async () => {
    api.setFault({ mode: "slow", delayMs: 5_000 });
    const out = await run({ ...kbSearch, timeoutMs: 150 }, { query: "vpn" }, apiCtx());
    expect(out.result).toEqual({ ok: false, error: "kb.search timed out after 150 ms", retryable: true });
  });

  it("refuses without configuration or token, and reports refused credentials", async () => {
    const unconfigured = await run(kbSearch, { query: "vpn" }, testContext());
    expect(unconfigured.result).toMatchObject({
      ok: false,
      error: "the internal API is not configured (settings.baseUrl)",
    });
    const noSecret = await run(kbSearch, { query: "vpn" }, apiCtx({ getSecret: () => undefined }));
    expect(noSecret.result).toMatchObject({
      ok: false,
      error: "the internal API token (INTERNAL_API_TOKEN) is not set",
    });
    const wrong = await run(kbSearch, { query: "vpn" }, apiCtx({ getSecret: () => "wrong" }));
    expect(wrong.result).toEqual({ ok: false, error: "the internal API refused our credentials", retryable: false });
    // The token never shows up in what the model or the user sees.
    expect(JSON.stringify([unconfigured, noSecret, wrong])).not.toContain(TOKEN);
  });

  it("reports an unreachable API as retryable", async () => {
    const down = await startFakeInternalApi({ port: 0 });
    await down.close();
    const out = await run(kbSearch, { query: "vpn" }, testContext({ settings: { baseUrl: down.url } }));
    expect(out.result).toEqual({ ok: false, error: "the internal API is unreachable", retryable: true });
  });
});

describe("ticket.lookup", () => {
  it("returns a ticket, and a clear answer for a missing one", async () => {
    const found = await run(ticketLookup, { ticketId: "OPS-2" }, apiCtx());
    expect(found.result).toMatchObject({
      ok: true,
      content: "OPS-2 [in_progress] Rotate the TLS certificate for the API gateway (owner: bob)",
    });
    const unassigned = await run(ticketLookup, { ticketId: "OPS-4" }, apiCtx());
    expect(unassigned.result.ok && unassigned.result.content).toContain("(owner: unassigned)");
    const missing = await run(ticketLookup, { ticketId: "OPS-999" }, apiCtx());
    expect(missing.result).toEqual({ ok: false, error: "ticket OPS-999 does not exist", retryable: false });
  });

  it("rejects a malformed id before calling the API", async () => {
    const out = await run(ticketLookup, { ticketId: "../admin" }, apiCtx());
    expect(out.result).toMatchObject({ ok: false, retryable: false });
    expect(api.requests).toHaveLength(0);
  });
});

describe("ticket.create", () => {
  it("creates a ticket once per trace id (a retried job does not duplicate it)", async () => {
    const ctx = apiCtx({ traceId: "trace-create-1", userId: "u-42" });
    const first = await run(ticketCreate, { project: "OPS", title: "Printer on fire" }, ctx);
    expect(first.result).toMatchObject({ ok: true, content: `Created ticket OPS-6: ${api.url}/tickets/OPS-6` });
    const retry = await run(ticketCreate, { project: "OPS", title: "Printer on fire" }, ctx);
    expect(retry.result).toMatchObject({ ok: true, data: { id: "OPS-6" } });
    expect(api.tickets.get("OPS-6")).toMatchObject({ title: "Printer on fire", reporter: "u-42", body: "" });
    expect([...api.tickets.keys()].filter((k) => k.startsWith("OPS-"))).toHaveLength(6);
    expect(api.requests[0]).toMatchObject({ method: "POST", path: "/tickets", idempotencyKey: "trace-create-1" });
    const looked = await run(ticketLookup, { ticketId: "OPS-6" }, apiCtx());
    expect(looked.result.ok && looked.result.content).toBe("OPS-6 [open] Printer on fire (owner: unassigned)");
  });

  it("is never cached", async () => {
    const cache = new SkillCache();
    await run(ticketCreate, { project: "NET", title: "One" }, apiCtx({ traceId: "a" }), cache);
    const second = await run(ticketCreate, { project: "NET", title: "Two" }, apiCtx({ traceId: "b" }), cache);
    expect(second).toMatchObject({ cacheHit: false, result: { ok: true, data: { id: "NET-2" } } });
  });
});

describe("help, status, group.announce", () => {
  it("help lists the skills the runtime allows", async () => {
    const out = await run(
      help,
      {},
      testContext({ settings: { available: ["kb.search", "ticket.lookup", "custom.thing"] } }),
    );
    expect(out.result).toMatchObject({
      ok: true,
      content:
        "I can help with:\n- kb.search: Search the internal knowledge base and return the best matching articles.\n" +
        "- ticket.lookup: Look up a ticket by its id and return its status, owner and summary.\n- custom.thing",
    });
    const none = await run(help, {}, testContext());
    expect(none.result.ok && none.result.content).toMatch(/No skills are enabled/);
    const bad = await run(help, {}, testContext({ settings: { available: "kb.search" } }));
    expect(bad.result).toEqual({
      ok: false,
      error: "help settings are invalid (available: string[])",
      retryable: false,
    });
  });

  it("status reports what the runtime provides, and refuses without it", async () => {
    const out = await run(
      status,
      {},
      testContext({ status: async () => ({ safeMode: "off", model: "local_chat", tokensLeft: 1200 }) }),
    );
    expect(out.result).toMatchObject({ ok: true, content: "safeMode: off\nmodel: local_chat\ntokensLeft: 1200" });
    expect((await run(status, {}, testContext())).result).toEqual({
      ok: false,
      error: "status is not available in this runtime",
      retryable: false,
    });
  });

  it("group.announce sends through the runtime, refuses without it or outside its allowed groups", async () => {
    const sent: string[][] = [];
    const announce = async (cid: string, title: string, text: string) => {
      sent.push([cid, title, text]);
    };
    const input = { conversationId: "cid-ops", title: "Maintenance", text: "Tonight 22:00" };
    const ok = await run(groupAnnounce, input, testContext({ announce }));
    expect(ok.result).toMatchObject({ ok: true, content: 'Announcement "Maintenance" posted in cid-ops.' });
    expect(sent).toEqual([["cid-ops", "Maintenance", "Tonight 22:00"]]);
    // No group named: the conversation the request came from.
    const here = await run(
      groupAnnounce,
      { title: "Lunch", text: "12:00" },
      testContext({ announce, conversationId: "cid-here" }),
    );
    expect(here.result).toMatchObject({
      ok: true,
      content: 'Announcement "Lunch" posted in this conversation.',
      data: { conversationId: "cid-here" },
    });
    expect(sent.at(-1)).toEqual(["cid-here", "Lunch", "12:00"]);
    sent.pop();
    expect((await run(groupAnnounce, input, testContext())).result).toMatchObject({ ok: false });
    const narrowed = await run(
      groupAnnounce,
      input,
      testContext({ announce, settings: { allowedConversations: ["cid-other"] } }),
    );
    expect(narrowed.result).toMatchObject({
      ok: false,
      error: "announcements to cid-ops are not allowed by this skill's settings",
    });
    expect(sent).toHaveLength(1);
  });
});
