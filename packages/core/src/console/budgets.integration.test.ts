import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZodError } from "zod";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { seedDemo } from "../seed/demo.ts";
import { createBudget, dailyUsage, deleteBudget, listBudgets, updateBudget } from "./budgets.ts";
import { windowStart } from "../limits/budget.ts";

let tdb: TestDatabase;
let db: Db;
beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_console_budgets" });
  db = createDb(tdb.url, { max: 2 });
  await seedDemo(db);
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

const NOW = new Date("2026-03-15T22:30:00Z");
const budgets = () => db.tokenBudget.findMany({ orderBy: { id: "asc" } });

describe("usage", () => {
  it("reads the current DAY and MONTH counters of each budget's own scope and subject", async () => {
    const [day, month] = [windowStart("DAY", NOW), windowStart("MONTH", NOW)];
    const yesterday = new Date(day.getTime() - 86_400_000);
    await db.usageCounter.createMany({
      data: [
        {
          scope: "GLOBAL",
          subject: "",
          window: "DAY",
          windowStart: day,
          tokensUsed: 1_200n,
          tokensReserved: 300n,
          requests: 4,
        },
        { scope: "GLOBAL", subject: "", window: "DAY", windowStart: yesterday, tokensUsed: 9_999n, requests: 7 },
        { scope: "GLOBAL", subject: "", window: "MONTH", windowStart: month, tokensUsed: 50_000n, requests: 40 },
        // Another scope's counter and an old month: not this budget's usage.
        { scope: "CONVERSATION", subject: "cid-x", window: "DAY", windowStart: day, tokensUsed: 77n, requests: 1 },
        {
          scope: "GLOBAL",
          subject: "",
          window: "MONTH",
          windowStart: new Date("2026-02-01T00:00:00Z"),
          tokensUsed: 123_456n,
          requests: 99,
        },
      ],
    });
    const listed = await listBudgets(db, NOW);
    const global = listed.find((b) => b.scope === "GLOBAL");
    expect(global).toMatchObject({
      dailyTokens: 2_000_000,
      day: { used: 1_200, reserved: 300, requests: 4 },
      month: { used: 50_000, reserved: 0, requests: 40 },
    });

    // cid-x has no budget of its own: the DEFAULT budget lists it.
    expect(listed.find((b) => b.scope === "DEFAULT")?.topToday).toEqual([
      { scope: "CONVERSATION", subject: "cid-x", used: 77, reserved: 0, requests: 1 },
    ]);
    expect(global?.topToday).toEqual([]);

    const series = await dailyUsage(db, { days: 3, now: NOW });
    expect(series).toEqual([
      { day: "2026-03-13", tokens: 0, requests: 0 },
      { day: "2026-03-14", tokens: 9_999, requests: 7 },
      { day: "2026-03-15", tokens: 1_200, requests: 4 },
    ]);
    expect((await dailyUsage(db, { scope: "CONVERSATION", subject: "cid-x", days: 1, now: NOW }))[0]).toEqual({
      day: "2026-03-15",
      tokens: 77,
      requests: 1,
    });
  });
});

describe("budgets", () => {
  it("creates a conversation budget; empty limits are unlimited", async () => {
    const { result, diff } = await db.$transaction((t) =>
      createBudget(t, {
        scope: "CONVERSATION",
        subject: " cid-ops ",
        maxContextTokens: null,
        dailyTokens: 50_000,
        monthlyTokens: null,
        requestsPerMinute: 10,
      }),
    );
    expect(result.label).toBe("CONVERSATION cid-ops");
    expect(diff).toEqual({ dailyTokens: { from: null, to: 50_000 }, requestsPerMinute: { from: null, to: 10 } });
    expect(await db.tokenBudget.findUniqueOrThrow({ where: { id: result.id } })).toMatchObject({
      subject: "cid-ops",
      monthlyTokens: null,
      dailyTokens: 50_000,
    });
  });

  it("refuses bad limits, subjects and duplicates, changing nothing", async () => {
    const before = await budgets();
    const base = { maxContextTokens: null, dailyTokens: null, monthlyTokens: null, requestsPerMinute: null };
    const bad = [
      { scope: "USER" as const, subject: "", ...base },
      { scope: "GLOBAL" as const, subject: "someone", ...base },
      { scope: "USER" as const, subject: "staff 9", ...base },
      { scope: "USER" as const, subject: "staff-9", ...base, dailyTokens: 0 },
      { scope: "USER" as const, subject: "staff-9", ...base, dailyTokens: -5 },
      { scope: "USER" as const, subject: "staff-9", ...base, monthlyTokens: 1.5 },
      { scope: "USER" as const, subject: "staff-9", ...base, requestsPerMinute: 3_000_000_000 },
    ];
    for (const input of bad)
      await expect(db.$transaction((t) => createBudget(t, input))).rejects.toBeInstanceOf(ZodError);
    const dup = db.$transaction((t) => createBudget(t, { scope: "GLOBAL", ...base }));
    await expect(dup).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(dup).rejects.toThrow(/GLOBAL budget already exists/);
    expect(await budgets()).toEqual(before);
  });

  it("updates the limits with a field diff, and deletes", async () => {
    const b = await db.tokenBudget.findUniqueOrThrow({
      where: { scope_subject: { scope: "CONVERSATION", subject: "cid-ops" } },
    });
    const { diff } = await db.$transaction((t) =>
      updateBudget(t, {
        id: b.id,
        maxContextTokens: 4_000,
        dailyTokens: null,
        monthlyTokens: null,
        requestsPerMinute: 10,
      }),
    );
    expect(diff).toEqual({ maxContextTokens: { from: null, to: 4_000 }, dailyTokens: { from: 50_000, to: null } });
    await expect(
      db.$transaction((t) =>
        updateBudget(t, {
          id: b.id,
          maxContextTokens: 0,
          dailyTokens: null,
          monthlyTokens: null,
          requestsPerMinute: null,
        }),
      ),
    ).rejects.toBeInstanceOf(ZodError);
    expect(await db.tokenBudget.findUniqueOrThrow({ where: { id: b.id } })).toMatchObject({
      maxContextTokens: 4_000,
      dailyTokens: null,
    });
    await db.$transaction((t) => deleteBudget(t, b.id));
    expect(await db.tokenBudget.findUnique({ where: { id: b.id } })).toBeNull();
    await expect(db.$transaction((t) => deleteBudget(t, b.id))).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("deleting a budget a route names leaves the route without one", async () => {
    const b = await db.tokenBudget.findUniqueOrThrow({ where: { scope_subject: { scope: "DEFAULT", subject: "" } } });
    expect(await db.route.count({ where: { budgetId: b.id } })).toBe(1);
    await db.$transaction((t) => deleteBudget(t, b.id));
    expect(await db.route.count({ where: { isDefault: true, budgetId: null } })).toBe(1);
  });
});
