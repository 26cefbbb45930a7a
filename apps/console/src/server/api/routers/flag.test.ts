import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../../../../packages/devstack/src/testdb.ts";

vi.mock("server-only", () => ({})); // Next's marker module: throws outside a React server bundle
process.env.SKIP_ENV_VALIDATION = "1";
const { seedDemo } = await import("@clawgate/core");
const { createCallerFactory, createTRPCRouter } = await import("../trpc.ts");
const { flagRouter } = await import("./flag.ts");
const createCaller = createCallerFactory(createTRPCRouter({ flag: flagRouter }));

let tdb: TestDatabase;
let db: Db;

function callerAs(role: "ADMIN" | "OPERATOR" | "APPROVER" | "VIEWER") {
  return createCaller({
    db,
    requestId: `req-${role}`,
    log: () => undefined,
    session: { user: { id: `u-${role.toLowerCase()}`, role, email: `${role.toLowerCase()}@example.test` }, expires: new Date(Date.now() + 3_600_000).toISOString() },
  });
}
const counts = async () => ({ audit: await db.auditLog.count(), revisions: await db.configRevision.count(), flags: await db.featureFlag.count() });

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_console_flag" });
  db = createDb(tdb.url, { max: 4 });
  await seedDemo(db, { modelBaseUrl: "http://127.0.0.1:9/v1" });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

describe("flag router", () => {
  it("every role lists; only ADMIN toggles or creates", async () => {
    expect((await callerAs("VIEWER").flag.list()).map((f) => f.key)).toEqual(["agent.tools", "approvals.dingtalk_cards", "replies.markdown"]);
    const before = await counts();
    for (const role of ["VIEWER", "OPERATOR", "APPROVER"] as const) {
      await expect(callerAs(role).flag.toggle({ key: "agent.tools", enabled: false })).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(callerAs(role).flag.create({ key: "x.y", description: "d" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    }
    expect(await counts()).toEqual(before);
  });

  it("an admin creates and toggles: change, audit entry and config revision together", async () => {
    const admin = callerAs("ADMIN");
    const created = await admin.flag.create({ key: "replies.cards", description: "Cards instead of markdown" });
    expect(created).toMatchObject({ key: "replies.cards", enabled: false });
    const on = await admin.flag.toggle({ key: "replies.cards", enabled: true });
    expect(on.revision).toBe(created.revision + 1);
    const audit = await db.auditLog.findMany({ where: { targetId: "replies.cards" }, orderBy: { id: "asc" } });
    expect(audit.map((a) => [a.action, a.actorId, a.configRevision])).toEqual([
      ["flag.create", "u-admin", created.revision],
      ["flag.update", "u-admin", on.revision],
    ]);
  });

  it("bad keys, duplicates and no-ops get clear errors and write nothing", async () => {
    const before = await counts();
    const admin = callerAs("ADMIN");
    await expect(admin.flag.create({ key: "Not A Key", description: "d" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(admin.flag.create({ key: "agent.tools", description: "d" })).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(admin.flag.toggle({ key: "agent.tools", enabled: true })).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(admin.flag.toggle({ key: "no.such", enabled: true })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await counts()).toEqual(before);
  });
});
