import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import {
  loadBudgets,
  release,
  reserve,
  settle,
  usageFor,
  windowReset,
  windowStart,
  type Reservation,
} from "./budget.ts";
import { DomainError } from "../errors.ts";

let tdb: TestDatabase;
let db: Db;
// Mid-month, mid-day: the DAY and MONTH windows are different.
const NOW = new Date("2026-03-14T15:30:00Z");

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_budget" });
  db = createDb(tdb.url, { max: 24 });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});
beforeEach(async () => {
  await db.usageCounter.deleteMany({});
  await db.tokenBudget.deleteMany({});
});

type Limits = { dailyTokens?: number | null; monthlyTokens?: number | null; requestsPerMinute?: number | null };
const budget = (scope: "GLOBAL" | "DEFAULT" | "CONVERSATION" | "USER", subject: string, limits: Limits) =>
  db.tokenBudget.create({ data: { scope, subject, ...limits } });

const counters = async () =>
  (await db.usageCounter.findMany({ orderBy: [{ scope: "asc" }, { window: "asc" }, { windowStart: "asc" }] })).map(
    (c) => ({
      scope: c.scope,
      subject: c.subject,
      window: c.window,
      windowStart: c.windowStart.toISOString().slice(0, 10),
      used: Number(c.tokensUsed),
      reserved: Number(c.tokensReserved),
      requests: c.requests,
    }),
  );

const ok = (r: Awaited<ReturnType<typeof reserve>>): Reservation => {
  if (!r.ok) throw new Error(`expected a reservation, got ${JSON.stringify(r)}`);
  return r.reservation;
};

describe("windows", () => {
  it("start and reset at UTC day and month boundaries", () => {
    expect(windowStart("DAY", NOW).toISOString()).toBe("2026-03-14T00:00:00.000Z");
    expect(windowReset("DAY", NOW).toISOString()).toBe("2026-03-15T00:00:00.000Z");
    expect(windowStart("MONTH", NOW).toISOString()).toBe("2026-03-01T00:00:00.000Z");
    expect(windowReset("MONTH", NOW).toISOString()).toBe("2026-04-01T00:00:00.000Z");
    expect(windowReset("MONTH", new Date("2026-12-31T23:59:59Z")).toISOString()).toBe("2027-01-01T00:00:00.000Z");
  });
});

describe("token budgets", () => {
  it("reserves on all six counters, then settles the actual count (which may exceed the estimate)", async () => {
    await budget("DEFAULT", "", { dailyTokens: 10_000, monthlyTokens: 100_000 });
    const r = ok(await reserve(db, { conversationId: "cid-a", userId: "u1", estimate: 1_000, now: NOW }));
    expect(r.tokens).toBe(1_000);
    const reserved = await counters();
    expect(reserved).toHaveLength(6);
    expect(reserved.every((c) => c.reserved === 1_000 && c.used === 0 && c.requests === 1)).toBe(true);
    expect(reserved.map((c) => `${c.scope}/${c.subject}/${c.window}/${c.windowStart}`)).toEqual([
      "GLOBAL//DAY/2026-03-14",
      "GLOBAL//MONTH/2026-03-01",
      "CONVERSATION/cid-a/DAY/2026-03-14",
      "CONVERSATION/cid-a/MONTH/2026-03-01",
      "USER/u1/DAY/2026-03-14",
      "USER/u1/MONTH/2026-03-01",
    ]);
    await settle(db, r, 1_234);
    expect((await counters()).every((c) => c.reserved === 0 && c.used === 1_234)).toBe(true);
  });

  it("does not charge a released (failed) call", async () => {
    await budget("DEFAULT", "", { dailyTokens: 10_000 });
    const r = ok(await reserve(db, { conversationId: "cid-a", userId: "u1", estimate: 3_000, now: NOW }));
    await release(db, r);
    expect((await counters()).every((c) => c.reserved === 0 && c.used === 0)).toBe(true);
    const u = await usageFor(db, { scope: "CONVERSATION", subject: "cid-a", now: NOW });
    expect(u.day).toMatchObject({ used: 0, reserved: 0, limit: 10_000 });
  });

  it("refuses once a daily budget is used up, naming the scope, window, limit and reset", async () => {
    await budget("DEFAULT", "", { dailyTokens: 1_000, monthlyTokens: 1_000_000 });
    await settle(db, ok(await reserve(db, { conversationId: "cid-a", userId: "u1", estimate: 600, now: NOW })), 1_100);
    const refused = await reserve(db, { conversationId: "cid-a", userId: "u2", estimate: 10, now: NOW });
    expect(refused).toEqual({
      ok: false,
      scope: "CONVERSATION",
      subject: "cid-a",
      source: "DEFAULT",
      window: "DAY",
      limit: 1_000,
      used: 1_100,
      resetsAt: new Date("2026-03-15T00:00:00Z"),
    });
    // Another conversation of the same user is refused on the user's own DEFAULT budget.
    expect(await reserve(db, { conversationId: "cid-b", userId: "u1", estimate: 10, now: NOW })).toMatchObject({
      ok: false,
      scope: "USER",
      subject: "u1",
    });
    // A refusal reserves nothing.
    expect(
      (await counters()).filter((c) => c.subject !== "u1" && c.subject !== "cid-a").every((c) => c.reserved === 0),
    ).toBe(true);
    // The next day the DAY window starts over; the MONTH window still counts it.
    const tomorrow = new Date("2026-03-15T00:00:01Z");
    const next = ok(await reserve(db, { conversationId: "cid-a", userId: "u1", estimate: 10, now: tomorrow }));
    await settle(db, next, 10);
    const month = await usageFor(db, { scope: "CONVERSATION", subject: "cid-a", now: tomorrow });
    expect(month.day).toMatchObject({ used: 10, limit: 1_000, windowStart: new Date("2026-03-15T00:00:00Z") });
    expect(month.month).toMatchObject({ used: 1_110, limit: 1_000_000 });
  });

  it("refuses on the MONTH window and reports its reset when both windows are used up", async () => {
    await budget("USER", "u1", { dailyTokens: 500, monthlyTokens: 500 });
    await settle(db, ok(await reserve(db, { conversationId: "cid-a", userId: "u1", estimate: 500, now: NOW })), 500);
    expect(await reserve(db, { conversationId: "cid-a", userId: "u1", estimate: 1, now: NOW })).toMatchObject({
      ok: false,
      scope: "USER",
      source: "USER",
      window: "MONTH",
      resetsAt: new Date("2026-04-01T00:00:00Z"),
    });
    // Next month, a new window.
    expect(
      (await reserve(db, { conversationId: "cid-a", userId: "u1", estimate: 1, now: new Date("2026-04-01T08:00:00Z") }))
        .ok,
    ).toBe(true);
  });

  it("a subject's own row replaces DEFAULT; GLOBAL applies on top of both", async () => {
    await budget("DEFAULT", "", { dailyTokens: 100 });
    await budget("CONVERSATION", "cid-big", { dailyTokens: 5_000, monthlyTokens: null });
    await budget("USER", "u-big", { dailyTokens: null });
    await budget("GLOBAL", "", { dailyTokens: 3_000 });
    expect(await loadBudgets(db, { conversationId: "cid-big", userId: "u-big" })).toEqual({
      global: { source: "GLOBAL", dailyTokens: 3_000, monthlyTokens: null, requestsPerMinute: null },
      conversation: { source: "CONVERSATION", dailyTokens: 5_000, monthlyTokens: null, requestsPerMinute: null },
      user: { source: "USER", dailyTokens: null, monthlyTokens: null, requestsPerMinute: null },
    });
    // DEFAULT's 100 would refuse 2,000 after the first; the own rows allow it, up to GLOBAL's 3,000.
    const first = ok(await reserve(db, { conversationId: "cid-big", userId: "u-big", estimate: 2_000, now: NOW }));
    expect(first.tokens).toBe(2_000);
    await settle(db, first, 2_000);
    const second = ok(await reserve(db, { conversationId: "cid-big", userId: "u-big", estimate: 2_000, now: NOW }));
    expect(second.tokens).toBe(1_000); // partial: what GLOBAL has left
    await settle(db, second, 1_000);
    expect(await reserve(db, { conversationId: "cid-big", userId: "u-big", estimate: 1, now: NOW })).toMatchObject({
      ok: false,
      scope: "GLOBAL",
      subject: "",
      limit: 3_000,
      used: 3_000,
    });
    // Another conversation falls back to DEFAULT (100 a day) and is refused by GLOBAL anyway.
    expect(await reserve(db, { conversationId: "cid-small", userId: "u2", estimate: 1, now: NOW })).toMatchObject({
      ok: false,
      scope: "GLOBAL",
    });
    const global = await usageFor(db, { scope: "GLOBAL", subject: "", now: NOW });
    expect(global).toMatchObject({
      source: "GLOBAL",
      day: { used: 3_000, reserved: 0, limit: 3_000 },
      month: { used: 3_000, limit: null },
    });
  });

  it("never overshoots a limit under concurrent reserves (independent connections)", async () => {
    await budget("DEFAULT", "", { dailyTokens: 10_000 });
    // Two clients, as two replicas would have.
    const other = createDb(tdb.url, { max: 12 });
    try {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          reserve(i % 2 ? other : db, { conversationId: "cid-hot", userId: `u${i}`, estimate: 700, now: NOW }),
        ),
      );
      const granted = results.flatMap((r) => (r.ok ? [r.reservation.tokens] : []));
      // 14 x 700 = 9,800, then one partial 200: exactly the limit, never more.
      expect(granted.reduce((a, b) => a + b, 0)).toBe(10_000);
      expect(granted.filter((t) => t === 700)).toHaveLength(14);
      expect(granted.filter((t) => t !== 700)).toEqual([200]);
      expect(results.filter((r) => !r.ok)).toHaveLength(25);
      const conv = await usageFor(db, { scope: "CONVERSATION", subject: "cid-hot", now: NOW });
      expect(conv.day).toMatchObject({ reserved: 10_000, used: 0 });
      // Settling concurrently (from both clients) while others reserve does not deadlock or lose updates.
      const reservations = results.flatMap((r) => (r.ok ? [r.reservation] : []));
      await Promise.all([
        ...reservations.map((r, i) => settle(i % 2 ? other : db, r, 100)),
        ...Array.from({ length: 10 }, (_, i) =>
          reserve(i % 2 ? db : other, { conversationId: "cid-hot", userId: `v${i}`, estimate: 50, now: NOW }),
        ),
      ]);
      const after = await usageFor(db, { scope: "CONVERSATION", subject: "cid-hot", now: NOW });
      expect(after.day.used).toBe(1_500);
      expect(after.day.used + after.day.reserved).toBeLessThanOrEqual(10_000);
    } finally {
      await other.$disconnect();
    }
  });

  it("counts usage even without any budget row (unlimited)", async () => {
    const r = ok(await reserve(db, { conversationId: "cid-free", userId: "u1", estimate: 5_000, now: NOW }));
    expect(r.tokens).toBe(5_000);
    await settle(db, r, 42);
    expect(await usageFor(db, { scope: "USER", subject: "u1", now: NOW })).toMatchObject({
      source: "NONE",
      day: { used: 42, limit: null },
      month: { used: 42, limit: null },
    });
  });

  it("rejects bad input with a clear error and writes nothing", async () => {
    const bad = [
      { conversationId: "", userId: "u1", estimate: 1 },
      { conversationId: "cid", userId: "u1", estimate: -1 },
      { conversationId: "cid", userId: "u1", estimate: 1.5 },
      { conversationId: "cid", userId: "u1", estimate: 1, now: new Date("nope") },
    ];
    for (const input of bad) await expect(reserve(db, input)).rejects.toBeInstanceOf(DomainError);
    await expect(settle(db, { counterIds: [], tokens: 1 }, -5)).rejects.toBeInstanceOf(DomainError);
    await expect(usageFor(db, { scope: "DEFAULT" as "GLOBAL", subject: "" })).rejects.toThrow(
      /DEFAULT is counted per subject/,
    );
    expect(await counters()).toEqual([]);
  });
});
