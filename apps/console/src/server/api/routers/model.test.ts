// trpc.ts is server-only and reads the session through next-auth: the tests build the context
// themselves (a real database, a session per role), so those two imports are neutralised.
import { vi } from "vitest";
vi.mock("server-only", () => ({}));
vi.mock("../../auth.ts", () => ({ getSession: async () => null }));

import { createDb, type Db } from "@clawgate/db";
import type { Role } from "@clawgate/db/enums";
import { seedDemo } from "@clawgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../../../../packages/devstack/src/testdb.ts";
import { createCallerFactory } from "../trpc.ts";
import { modelRouter } from "./model.ts";

let tdb: TestDatabase;
let db: Db;
beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_console_model" });
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
  return createCallerFactory(modelRouter)(ctx as never);
}

/** What a refused call must leave untouched. */
const state = () =>
  Promise.all([
    db.modelEndpoint.findMany({ orderBy: { name: "asc" } }),
    db.route.findMany({ orderBy: { id: "asc" } }),
    db.configRevision.count(),
    db.auditLog.count(),
  ]);

describe("model router", () => {
  it("lets every role read, with the API key only as its env var name", async () => {
    const list = await (await callerAs("VIEWER")).list();
    const local = list.endpoints.find((e) => e.name === "local_chat");
    expect(local).toMatchObject({ apiKeyEnv: "LOCAL_MODEL_API_KEY", isDefault: true });
    expect(list.defaultRoute?.modelEndpoint.name).toBe("local_chat");
  });

  it("refuses a viewer, an operator and an approver server-side, changing nothing", async () => {
    const before = await state();
    const endpoint = await db.modelEndpoint.findFirstOrThrow();
    for (const role of ["VIEWER", "OPERATOR", "APPROVER"] as const) {
      const caller = await callerAs(role);
      await expect(caller.createEndpoint({ name: "evil", baseUrl: "https://evil.test/v1", model: "m" })).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(caller.updateEndpoint({ id: endpoint.id, enabled: false })).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(caller.deleteEndpoint({ id: endpoint.id })).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(caller.setRoute({ conversationId: null, modelEndpointId: endpoint.id })).rejects.toMatchObject({ code: "FORBIDDEN" });
    }
    expect(await state()).toEqual(before);
  });

  it("refuses bad input with field errors and refusals with clear messages, changing nothing", async () => {
    const admin = await callerAs("ADMIN");
    const before = await state();
    const bad = admin.createEndpoint({ name: "x y", baseUrl: "not a url", model: "m", apiKeyEnv: "sk-live-123", timeoutMs: 1 });
    await expect(bad).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(bad).rejects.not.toThrow(/sk-live-123/);
    const local = await db.modelEndpoint.findUniqueOrThrow({ where: { name: "local_chat" } });
    await expect(admin.updateEndpoint({ id: local.id, enabled: false })).rejects.toMatchObject({ code: "PRECONDITION_FAILED", message: expect.stringMatching(/default route/) });
    await expect(admin.deleteEndpoint({ id: local.id })).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
    await expect(admin.createEndpoint({ name: "local_chat", baseUrl: "https://x.test/v1", model: "m" })).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(admin.deleteRoute({ id: "missing" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await state()).toEqual(before);
  });

  it("an admin's change commits with its audit entry and a new config revision", async () => {
    const admin = await callerAs("ADMIN");
    const revisions = await db.configRevision.count();
    const created = await admin.createEndpoint({ name: "big", baseUrl: "https://llm.internal/v1", model: "qwen", apiKeyEnv: "${BIG_KEY}", maxConcurrency: 2 });
    expect(created.revision).toBeGreaterThan(0);
    expect(await db.modelEndpoint.findUniqueOrThrow({ where: { name: "big" } })).toMatchObject({ apiKeyEnv: "BIG_KEY", maxConcurrency: 2 });
    const conv = await db.conversation.findFirstOrThrow();
    await admin.setRoute({ conversationId: conv.id, modelEndpointId: created.id, maxToolRounds: 3 });
    expect(await db.configRevision.count()).toBe(revisions + 2);
    const audit = await db.auditLog.findMany({ where: { action: { in: ["model.create", "route.set"] } }, orderBy: { id: "asc" } });
    expect(audit.map((a) => [a.action, a.targetId, a.traceId])).toEqual([
      ["model.create", "big", "test-ADMIN"],
      ["route.set", conv.conversationId, "test-ADMIN"],
    ]);
    expect(audit[0]?.diff).toMatchObject({ apiKeyEnv: { from: null, to: "BIG_KEY" } });

    // Saving the same values again records nothing.
    const unchanged = await admin.setRoute({ conversationId: conv.id, modelEndpointId: created.id, maxToolRounds: 3 });
    expect(unchanged.revision).toBeNull();
    expect(await db.configRevision.count()).toBe(revisions + 2);
  });
});
