// The shared router-test setup goes first: it neutralises server-only and next-auth before trpc.ts loads.
import { routerTest } from "../test-caller.ts";
import { beforeAll, describe, expect, it } from "vitest";
import { createTRPCRouter } from "../trpc.ts";
import { userRouter } from "./user.ts";

const t = routerTest(createTRPCRouter({ user: userRouter }), { prefix: "clawgate_console_user" });
const id: Record<string, string> = {};
const roleOf = { admin: "ADMIN", approver: "APPROVER", operator: "OPERATOR", viewer: "VIEWER" } as const;
/** Signed in as the user created for that role (`admin`, ...): role changes are checked against real rows. */
const callerAs = (key: keyof typeof roleOf) => t.as(roleOf[key], { id: id[key]!, email: `${key}@example.test` });

beforeAll(async () => {
  for (const role of ["ADMIN", "APPROVER", "OPERATOR", "VIEWER"] as const) {
    const key = role.toLowerCase();
    const u = await t.db.user.create({ data: { email: `${key}@example.test`, name: key, role } });
    id[key] = u.id;
    await t.db.session.create({
      data: { sessionToken: `tok-${key}`, userId: u.id, expires: new Date(Date.now() + 86_400_000) },
    });
  }
});

describe("user router", () => {
  it("every role reads the list", async () => {
    const list = await callerAs("viewer").user.list();
    expect(list.total).toBe(4);
  });

  it("refuses every non-admin server-side, changing nothing", async () => {
    for (const key of ["viewer", "operator", "approver"] as const) {
      await expect(callerAs(key).user.setRole({ userId: id.viewer!, role: "ADMIN" })).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
      await expect(callerAs(key).user.setDisabled({ userId: id.operator!, disabled: true })).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
    }
    expect((await t.db.user.findUniqueOrThrow({ where: { id: id.viewer } })).role).toBe("VIEWER");
    expect((await t.db.user.findUniqueOrThrow({ where: { id: id.operator } })).disabledAt).toBeNull();
    expect(await t.db.session.count()).toBe(4);
    expect(await t.db.auditLog.count({ where: { action: { not: "auth.refused" } } })).toBe(0);
  });

  it("an admin demotes: role, revoked sessions and the audit entry in one go", async () => {
    const res = await callerAs("admin").user.setRole({ userId: id.approver!, role: "VIEWER" });
    expect(res.sessionsRevoked).toBe(1);
    expect(await t.db.session.count({ where: { userId: id.approver } })).toBe(0);
    const audit = await t.db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } });
    expect(audit).toMatchObject({
      action: "user.role",
      targetType: "user",
      targetId: id.approver,
      actorId: id.admin,
      configRevision: null, // the runtime does not read roles: no config revision
      diff: { role: { from: "APPROVER", to: "VIEWER" }, sessionsRevoked: 1 },
    });
    expect(await t.db.configRevision.count()).toBe(0);
  });

  it("an admin disables and re-enables a user", async () => {
    await callerAs("admin").user.setDisabled({ userId: id.operator!, disabled: true });
    expect(await t.db.session.count({ where: { userId: id.operator } })).toBe(0);
    expect((await t.db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } })).action).toBe("user.disable");
    await callerAs("admin").user.setDisabled({ userId: id.operator!, disabled: false });
    expect((await t.db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } })).action).toBe("user.enable");
  });

  it("refuses self-demotion, disabling the last admin and bad input, with clear errors and no writes", async () => {
    const before = await t.db.auditLog.count({ where: { action: { not: "auth.refused" } } });
    await expect(callerAs("admin").user.setRole({ userId: id.admin!, role: "VIEWER" })).rejects.toMatchObject({
      code: "PRECONDITION_FAILED",
      message: "You cannot demote yourself: ask another admin.",
    });
    await expect(callerAs("admin").user.setDisabled({ userId: id.admin!, disabled: true })).rejects.toMatchObject({
      code: "PRECONDITION_FAILED",
    });
    await expect(callerAs("admin").user.setRole({ userId: id.viewer!, role: "ROOT" as never })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(callerAs("admin").user.setRole({ userId: "nobody", role: "VIEWER" })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    expect(await t.db.auditLog.count({ where: { action: { not: "auth.refused" } } })).toBe(before);
    expect((await t.db.user.findUniqueOrThrow({ where: { id: id.admin } })).role).toBe("ADMIN");
  });

  it("an admin adds a user by email; everyone else is refused server-side; a duplicate is refused clearly", async () => {
    const before = {
      users: await t.db.user.count(),
      audit: await t.db.auditLog.count({ where: { action: { not: "auth.refused" } } }),
    };
    for (const key of ["viewer", "operator", "approver"] as const) {
      await expect(callerAs(key).user.add({ email: "new@example.test", role: "APPROVER" })).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
    }
    await expect(callerAs("admin").user.add({ email: "nope", role: "APPROVER" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    expect(await t.db.user.count()).toBe(before.users);
    expect(await t.db.auditLog.count({ where: { action: { not: "auth.refused" } } })).toBe(before.audit);

    const added = await callerAs("admin").user.add({ email: "New@Example.test", role: "APPROVER", name: "Nia" });
    expect(added).toMatchObject({
      created: true,
      email: "new@example.test",
      summary: "new@example.test added as APPROVER",
    });
    expect(await t.db.user.findUniqueOrThrow({ where: { email: "new@example.test" } })).toMatchObject({
      role: "APPROVER",
      name: "Nia",
    });
    expect(await t.db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } })).toMatchObject({
      action: "user.add",
      targetType: "user",
      targetId: added.userId,
      actorId: id.admin,
      configRevision: null,
      // The email is personal data: masked in the diff (the target id names the user).
      diff: { email: { from: null, to: "[email]" }, role: { from: null, to: "APPROVER" } },
    });

    await expect(callerAs("admin").user.add({ email: "new@example.test", role: "ADMIN" })).rejects.toMatchObject({
      code: "CONFLICT",
      message: "new@example.test is already a user (APPROVER): nothing added.",
    });
    expect((await t.db.user.findUniqueOrThrow({ where: { email: "new@example.test" } })).role).toBe("APPROVER");
  });
});
