import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../../../../packages/devstack/src/testdb.ts";

vi.mock("server-only", () => ({})); // Next's marker module: throws outside a React server bundle
process.env.SKIP_ENV_VALIDATION = "1";
const { seedDemo } = await import("@clawgate/core");
const { createCallerFactory, createTRPCRouter } = await import("../trpc.ts");
const { safeModeRouter } = await import("./safe-mode.ts");
const createCaller = createCallerFactory(createTRPCRouter({ safeMode: safeModeRouter }));

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
const counts = async () => ({ audit: await db.auditLog.count(), revisions: await db.configRevision.count(), events: await db.safeModeEvent.count() });

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_console_safemode" });
  db = createDb(tdb.url, { max: 4 });
  await seedDemo(db, { modelBaseUrl: "http://127.0.0.1:9/v1" });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

describe("safeMode router", () => {
  it("viewers and approvers read but cannot switch", async () => {
    expect(await callerAs("VIEWER").safeMode.get()).toMatchObject({ active: false, event: null });
    const before = await counts();
    for (const role of ["VIEWER", "APPROVER"] as const) {
      await expect(callerAs(role).safeMode.set({ active: true, reason: "no" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    }
    expect(await counts()).toEqual(before);
  });

  it("an operator switches it on and off; each is one audited config revision; history pages newest first", async () => {
    const on = await callerAs("OPERATOR").safeMode.set({ active: true, level: "MAINTENANCE", reason: "incident", ttlMs: 3_600_000, message: "Back soon" });
    expect(on).toMatchObject({ active: true, level: "MAINTENANCE", kind: "on", message: "Back soon" });
    expect(on).not.toHaveProperty("audit");
    const state = await callerAs("VIEWER").safeMode.get();
    expect(state).toMatchObject({ active: true, level: "MAINTENANCE", message: "Back soon", expired: false, event: { reason: "incident", actorName: "operator@example.test" } });
    expect(await db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } })).toMatchObject({ action: "safe_mode.on", actorId: "u-operator", configRevision: on.revision, traceId: "req-OPERATOR" });

    const off = await callerAs("ADMIN").safeMode.set({ active: false, reason: "resolved" });
    expect(off).toMatchObject({ active: false, kind: "off", revision: on.revision + 1 });
    await callerAs("ADMIN").safeMode.set({ active: true, reason: "second" });
    await callerAs("ADMIN").safeMode.set({ active: false, reason: "done" });

    const page1 = await callerAs("VIEWER").safeMode.history({ limit: 1 });
    expect(page1.items.map((e) => e.reason)).toEqual(["second"]);
    expect(page1.total).toBe(2);
    const page2 = await callerAs("VIEWER").safeMode.history({ limit: 1, cursor: page1.nextCursor! });
    expect(page2.items).toMatchObject([{ reason: "incident", endedBy: "admin@example.test", endReason: "resolved" }]);
    expect(page2.nextCursor).toBeNull();
  });

  it("bad input and off-while-off get clear errors and write nothing", async () => {
    const before = await counts();
    const op = callerAs("OPERATOR");
    await expect(op.safeMode.set({ active: true, reason: "  " })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(op.safeMode.set({ active: true, reason: "x", ttlMs: 1 })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(op.safeMode.set({ active: false, reason: "again" })).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/already off/) });
    expect(await counts()).toEqual(before);
  });
});
