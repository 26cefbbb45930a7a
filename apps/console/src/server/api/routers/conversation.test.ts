import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../../../../packages/devstack/src/testdb.ts";

vi.mock("server-only", () => ({})); // Next's marker module: throws outside a React server bundle
process.env.SKIP_ENV_VALIDATION = "1"; // the context is built here, not from the request: no auth env needed
const { createCallerFactory, createTRPCRouter } = await import("../trpc.ts");
const { conversationRouter } = await import("./conversation.ts");
const createCaller = createCallerFactory(createTRPCRouter({ conversation: conversationRouter }));

let tdb: TestDatabase;
let db: Db;
let convId: string;

function callerAs(role: "ADMIN" | "OPERATOR" | "APPROVER" | "VIEWER", userId = `u-${role.toLowerCase()}`) {
  return createCaller({
    db,
    requestId: `req-${role}`,
    log: () => undefined,
    session: { user: { id: userId, role, email: `${role.toLowerCase()}@example.test` }, expires: new Date(Date.now() + 3_600_000).toISOString() },
  });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createDb(tdb.url, { max: 4 });
  convId = (await db.conversation.create({ data: { conversationId: "cid-1", title: "Team chat", type: "GROUP" } })).id;
  await db.conversation.create({ data: { conversationId: "cid-2", title: "Ops", type: "GROUP", status: "ENABLED" } });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

describe("conversation router", () => {
  it("every role lists, with the pending count", async () => {
    const list = await callerAs("VIEWER").conversation.list({ status: "PENDING" });
    expect(list.items.map((c) => c.conversationId)).toEqual(["cid-1"]);
    expect(list.counts.PENDING).toBe(1);
  });

  it("refuses viewers and approvers server-side, changing nothing", async () => {
    for (const role of ["VIEWER", "APPROVER"] as const) {
      await expect(callerAs(role).conversation.update({ id: convId, status: "ENABLED" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    }
    expect((await db.conversation.findUniqueOrThrow({ where: { id: convId } })).status).toBe("PENDING");
    expect(await db.auditLog.count()).toBe(0);
    expect(await db.configRevision.count()).toBe(0);
  });

  it("an operator enables it: change, audit entry and config revision together", async () => {
    const res = await callerAs("OPERATOR").conversation.update({ id: convId, status: "ENABLED", environment: "TEST" });
    expect(res).toMatchObject({ status: "ENABLED", environment: "TEST" });
    const rev = await db.configRevision.findFirstOrThrow({ orderBy: { id: "desc" } });
    expect(res.revision).toBe(rev.id);
    const audit = await db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } });
    expect(audit).toMatchObject({
      action: "conversation.update",
      targetType: "conversation",
      targetId: "cid-1",
      actorId: "u-operator",
      traceId: "req-OPERATOR",
      configRevision: rev.id,
      diff: { status: { from: "PENDING", to: "ENABLED" }, environment: { from: "PROD", to: "TEST" } },
    });
  });

  it("bad input and no-ops get clear errors and write nothing", async () => {
    const before = await db.auditLog.count();
    await expect(callerAs("ADMIN").conversation.update({ id: convId, status: "PENDING" as never })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(callerAs("ADMIN").conversation.update({ id: convId })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/nothing to change/) });
    await expect(callerAs("ADMIN").conversation.update({ id: convId, status: "ENABLED" })).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(callerAs("ADMIN").conversation.update({ id: "missing", status: "DISABLED" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await db.auditLog.count()).toBe(before);
  });
});
