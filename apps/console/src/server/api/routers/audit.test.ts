import { appendAudit } from "@clawgate/core";
import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../../../../packages/devstack/src/testdb.ts";

vi.mock("server-only", () => ({})); // Next's marker module: throws outside a React server bundle
process.env.SKIP_ENV_VALIDATION = "1"; // the context is built here, not from the request: no auth env needed
const { createCallerFactory, createTRPCRouter } = await import("../trpc.ts");
const { auditRouter } = await import("./audit.ts");
const { overviewRouter } = await import("./overview.ts");
const createCaller = createCallerFactory(createTRPCRouter({ audit: auditRouter, overview: overviewRouter }));

let tdb: TestDatabase;
let db: Db;
const session = (role: "VIEWER" | null) =>
  role ? { user: { id: "u-viewer", role, email: "viewer@example.test" }, expires: new Date(Date.now() + 3_600_000).toISOString() } : null;
const callerAs = (role: "VIEWER" | null) => createCaller({ db, requestId: "req", log: () => undefined, session: session(role) });

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createDb(tdb.url, { max: 4 });
  for (let i = 0; i < 3; i++) {
    await db.$transaction((tx) => appendAudit(tx, { actor: { type: "CLI", name: "ops" }, action: `skill.update`, targetType: "skill", targetId: `s${i}` }));
  }
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

describe("audit and overview routers (read-only, every signed-in role)", () => {
  it("a viewer pages the audit log, lists target types and verifies the chain", async () => {
    const viewer = callerAs("VIEWER");
    const p1 = await viewer.audit.list({ limit: 2 });
    expect(p1.items.map((i) => i.targetId)).toEqual(["s2", "s1"]);
    const p2 = await viewer.audit.list({ limit: 2, cursor: p1.nextCursor! });
    expect(p2).toMatchObject({ items: [{ targetId: "s0" }], nextCursor: null });
    expect(await viewer.audit.targetTypes()).toEqual(["skill"]);
    expect(await viewer.audit.verify()).toMatchObject({ ok: true, rows: 3 });
    expect(await db.auditLog.count()).toBe(3); // verifying writes nothing
  });

  it("a viewer reads the overview", async () => {
    const o = await callerAs("VIEWER").overview.get();
    expect(o.last24h.hourly).toHaveLength(24);
  });

  it("signed-out callers are refused; bad filters are refused with a clear message", async () => {
    await expect(callerAs(null).audit.list()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    await expect(callerAs(null).overview.get()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    await expect(callerAs("VIEWER").audit.list({ cursor: "abc" })).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/cursor must be a row id/) });
  });
});
