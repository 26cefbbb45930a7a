// The shared router-test setup goes first: it neutralises server-only and next-auth before trpc.ts loads.
import { routerTest } from "../test-caller.ts";
import { seedDemo } from "@clawgate/core";
import { windowStart } from "@clawgate/core/limits/budget.ts";
import { describe, expect, it } from "vitest";
import { budgetRouter } from "./budget.ts";

// Callers are the seeded users of each role.
const t = routerTest(budgetRouter, { prefix: "clawgate_console_budget", seed: (db) => seedDemo(db) });

const state = () =>
  Promise.all([
    t.db.tokenBudget.findMany({ orderBy: { id: "asc" } }),
    t.db.configRevision.count(),
    t.db.auditLog.count({ where: { action: { not: "auth.refused" } } }),
  ]);
const unlimited = { maxContextTokens: null, dailyTokens: null, monthlyTokens: null, requestsPerMinute: null };

describe("budget router", () => {
  it("shows each budget with today's and this month's usage and a 14-day series", async () => {
    const [day, month] = [windowStart("DAY", new Date()), windowStart("MONTH", new Date())];
    await t.db.usageCounter.createMany({
      data: [
        { scope: "GLOBAL", subject: "", window: "DAY", windowStart: day, tokensUsed: 1_500n, requests: 3 },
        { scope: "GLOBAL", subject: "", window: "MONTH", windowStart: month, tokensUsed: 9_000n, requests: 12 },
      ],
    });
    const list = await (await t.asUserWith("VIEWER")).list();
    expect(list.budgets.find((b) => b.scope === "GLOBAL")).toMatchObject({
      dailyTokens: 2_000_000,
      day: { used: 1_500 },
      month: { used: 9_000 },
    });
    expect(list.daily).toHaveLength(14);
    expect(list.daily.at(-1)).toMatchObject({ tokens: 1_500, requests: 3 });
  });

  it("refuses non-admins server-side and bad limits with field errors, changing nothing", async () => {
    const before = await state();
    const global = await t.db.tokenBudget.findFirstOrThrow({ where: { scope: "GLOBAL" } });
    for (const role of ["VIEWER", "OPERATOR", "APPROVER"] as const) {
      const caller = await t.asUserWith(role);
      await expect(caller.create({ scope: "USER", subject: "staff-1", ...unlimited })).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
      await expect(caller.update({ id: global.id, ...unlimited })).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(caller.delete({ id: global.id })).rejects.toMatchObject({ code: "FORBIDDEN" });
    }
    const admin = await t.asUserWith("ADMIN");
    const bad = admin.update({ id: global.id, ...unlimited, dailyTokens: -1 });
    await expect(bad).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(bad).rejects.toThrow(/must be positive/);
    await expect(admin.create({ scope: "USER", subject: "", ...unlimited })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(admin.create({ scope: "GLOBAL", ...unlimited })).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(admin.delete({ id: "missing" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await state()).toEqual(before);
  });

  it("an admin's create, update and delete each commit with an audit entry and a revision", async () => {
    const admin = await t.asUserWith("ADMIN");
    const revisions = await t.db.configRevision.count();
    const { id } = await admin.create({ scope: "USER", subject: "staff-9", ...unlimited, dailyTokens: 10_000 });
    await admin.update({ id, ...unlimited, dailyTokens: 20_000, requestsPerMinute: 5 });
    expect(await t.db.tokenBudget.findUniqueOrThrow({ where: { id } })).toMatchObject({
      dailyTokens: 20_000,
      requestsPerMinute: 5,
    });
    await admin.delete({ id });
    expect(await t.db.tokenBudget.findUnique({ where: { id } })).toBeNull();
    expect(await t.db.configRevision.count()).toBe(revisions + 3);
    const audit = await t.db.auditLog.findMany({ where: { targetType: "token_budget" }, orderBy: { id: "asc" } });
    expect(audit.map((a) => [a.action, a.targetId])).toEqual([
      ["budget.create", "USER staff-9"],
      ["budget.update", "USER staff-9"],
      ["budget.delete", "USER staff-9"],
    ]);
    expect(audit[1]?.diff).toEqual({
      dailyTokens: { from: 10_000, to: 20_000 },
      requestsPerMinute: { from: null, to: 5 },
    });
  });
});
