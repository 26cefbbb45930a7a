// See model.test.ts: the context is built here (real database, a session per role).
import { vi } from "vitest";
vi.mock("server-only", () => ({}));
vi.mock("../../auth.ts", () => ({ getSession: async () => null }));

import { createDb, type Db } from "@clawgate/db";
import type { Role } from "@clawgate/db/enums";
import { seedDemo } from "@clawgate/core";
import { windowStarts } from "@clawgate/core/console/budgets.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../../../../packages/devstack/src/testdb.ts";
import { createCallerFactory } from "../trpc.ts";
import { budgetRouter } from "./budget.ts";

let tdb: TestDatabase;
let db: Db;
beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_console_budget" });
  db = createDb(tdb.url, { max: 2 });
  await seedDemo(db);
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

async function callerAs(role: Role) {
  const user = await db.user.findFirstOrThrow({ where: { role } });
  const ctx = {
    db,
    requestId: `test-${role}`,
    log: () => undefined,
    session: { user: { id: user.id, email: user.email, name: user.name, role }, expires: new Date(Date.now() + 60_000).toISOString() },
  };
  return createCallerFactory(budgetRouter)(ctx as never);
}

const state = () => Promise.all([db.tokenBudget.findMany({ orderBy: { id: "asc" } }), db.configRevision.count(), db.auditLog.count()]);
const unlimited = { maxContextTokens: null, dailyTokens: null, monthlyTokens: null, requestsPerMinute: null };

describe("budget router", () => {
  it("shows each budget with today's and this month's usage and a 14-day series", async () => {
    const { day, month } = windowStarts(new Date());
    await db.usageCounter.createMany({
      data: [
        { scope: "GLOBAL", subject: "", window: "DAY", windowStart: day, tokensUsed: 1_500n, requests: 3 },
        { scope: "GLOBAL", subject: "", window: "MONTH", windowStart: month, tokensUsed: 9_000n, requests: 12 },
      ],
    });
    const list = await (await callerAs("VIEWER")).list();
    expect(list.budgets.find((b) => b.scope === "GLOBAL")).toMatchObject({ dailyTokens: 2_000_000, day: { used: 1_500 }, month: { used: 9_000 } });
    expect(list.daily).toHaveLength(14);
    expect(list.daily.at(-1)).toMatchObject({ tokens: 1_500, requests: 3 });
  });

  it("refuses non-admins server-side and bad limits with field errors, changing nothing", async () => {
    const before = await state();
    const global = await db.tokenBudget.findFirstOrThrow({ where: { scope: "GLOBAL" } });
    for (const role of ["VIEWER", "OPERATOR", "APPROVER"] as const) {
      const caller = await callerAs(role);
      await expect(caller.create({ scope: "USER", subject: "staff-1", ...unlimited })).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(caller.update({ id: global.id, ...unlimited })).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(caller.delete({ id: global.id })).rejects.toMatchObject({ code: "FORBIDDEN" });
    }
    const admin = await callerAs("ADMIN");
    const bad = admin.update({ id: global.id, ...unlimited, dailyTokens: -1 });
    await expect(bad).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(bad).rejects.toThrow(/must be positive/);
    await expect(admin.create({ scope: "USER", subject: "", ...unlimited })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(admin.create({ scope: "GLOBAL", ...unlimited })).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(admin.delete({ id: "missing" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await state()).toEqual(before);
  });

  it("an admin's create, update and delete each commit with an audit entry and a revision", async () => {
    const admin = await callerAs("ADMIN");
    const revisions = await db.configRevision.count();
    const { id } = await admin.create({ scope: "USER", subject: "staff-9", ...unlimited, dailyTokens: 10_000 });
    await admin.update({ id, ...unlimited, dailyTokens: 20_000, requestsPerMinute: 5 });
    expect(await db.tokenBudget.findUniqueOrThrow({ where: { id } })).toMatchObject({ dailyTokens: 20_000, requestsPerMinute: 5 });
    await admin.delete({ id });
    expect(await db.tokenBudget.findUnique({ where: { id } })).toBeNull();
    expect(await db.configRevision.count()).toBe(revisions + 3);
    const audit = await db.auditLog.findMany({ where: { targetType: "token_budget" }, orderBy: { id: "asc" } });
    expect(audit.map((a) => [a.action, a.targetId])).toEqual([
      ["budget.create", "USER staff-9"],
      ["budget.update", "USER staff-9"],
      ["budget.delete", "USER staff-9"],
    ]);
    expect(audit[1]?.diff).toEqual({ dailyTokens: { from: 10_000, to: 20_000 }, requestsPerMinute: { from: null, to: 5 } });
  });
});
