import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../../../../packages/devstack/src/testdb.ts";

vi.mock("server-only", () => ({})); // Next's marker module: throws outside a React server bundle
process.env.SKIP_ENV_VALIDATION = "1"; // the context is built here, not from the request: no auth env needed
const { createCallerFactory, createTRPCRouter } = await import("../trpc.ts");
const { userRouter } = await import("./user.ts");
const createCaller = createCallerFactory(createTRPCRouter({ user: userRouter }));

let tdb: TestDatabase;
let db: Db;
const id: Record<string, string> = {};

function callerAs(key: string) {
  return createCaller({
    db,
    requestId: `req-${key}`,
    log: () => undefined,
    session: { user: { id: id[key]!, role: key.toUpperCase() as never, email: `${key}@example.test` }, expires: new Date(Date.now() + 3_600_000).toISOString() },
  });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createDb(tdb.url, { max: 4 });
  for (const role of ["ADMIN", "APPROVER", "OPERATOR", "VIEWER"] as const) {
    const key = role.toLowerCase();
    const u = await db.user.create({ data: { email: `${key}@example.test`, name: key, role } });
    id[key] = u.id;
    await db.session.create({ data: { sessionToken: `tok-${key}`, userId: u.id, expires: new Date(Date.now() + 86_400_000) } });
  }
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

describe("user router", () => {
  it("every role reads the list", async () => {
    const list = await callerAs("viewer").user.list();
    expect(list.total).toBe(4);
  });

  it("refuses every non-admin server-side, changing nothing", async () => {
    for (const key of ["viewer", "operator", "approver"]) {
      await expect(callerAs(key).user.setRole({ userId: id.viewer!, role: "ADMIN" })).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(callerAs(key).user.setDisabled({ userId: id.operator!, disabled: true })).rejects.toMatchObject({ code: "FORBIDDEN" });
    }
    expect((await db.user.findUniqueOrThrow({ where: { id: id.viewer } })).role).toBe("VIEWER");
    expect((await db.user.findUniqueOrThrow({ where: { id: id.operator } })).disabledAt).toBeNull();
    expect(await db.session.count()).toBe(4);
    expect(await db.auditLog.count()).toBe(0);
  });

  it("an admin demotes: role, revoked sessions and the audit entry in one go", async () => {
    const res = await callerAs("admin").user.setRole({ userId: id.approver!, role: "VIEWER" });
    expect(res.sessionsRevoked).toBe(1);
    expect(await db.session.count({ where: { userId: id.approver } })).toBe(0);
    const audit = await db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } });
    expect(audit).toMatchObject({
      action: "user.role",
      targetType: "user",
      targetId: id.approver,
      actorId: id.admin,
      configRevision: null, // the runtime does not read roles: no config revision
      diff: { role: { from: "APPROVER", to: "VIEWER" }, sessionsRevoked: 1 },
    });
    expect(await db.configRevision.count()).toBe(0);
  });

  it("an admin disables and re-enables a user", async () => {
    await callerAs("admin").user.setDisabled({ userId: id.operator!, disabled: true });
    expect(await db.session.count({ where: { userId: id.operator } })).toBe(0);
    expect((await db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } })).action).toBe("user.disable");
    await callerAs("admin").user.setDisabled({ userId: id.operator!, disabled: false });
    expect((await db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } })).action).toBe("user.enable");
  });

  it("refuses self-demotion, disabling the last admin and bad input, with clear errors and no writes", async () => {
    const before = await db.auditLog.count();
    await expect(callerAs("admin").user.setRole({ userId: id.admin!, role: "VIEWER" })).rejects.toMatchObject({
      code: "PRECONDITION_FAILED",
      message: "You cannot demote yourself: ask another admin.",
    });
    await expect(callerAs("admin").user.setDisabled({ userId: id.admin!, disabled: true })).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
    await expect(callerAs("admin").user.setRole({ userId: id.viewer!, role: "ROOT" as never })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(callerAs("admin").user.setRole({ userId: "nobody", role: "VIEWER" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await db.auditLog.count()).toBe(before);
    expect((await db.user.findUniqueOrThrow({ where: { id: id.admin } })).role).toBe("ADMIN");
  });
});
