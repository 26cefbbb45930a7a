// The shared router-test setup goes first: it neutralises server-only and next-auth before trpc.ts loads.
import { routerTest } from "../test-caller.ts";
import { seedDemo } from "@clawgate/core";
import { describe, expect, it } from "vitest";
import { modelRouter } from "./model.ts";

// Callers are the seeded users of each role.
const t = routerTest(modelRouter, { prefix: "clawgate_console_model", seed: (db) => seedDemo(db) });

/** What a refused call must leave untouched. */
const state = () =>
  Promise.all([
    t.db.modelEndpoint.findMany({ orderBy: { name: "asc" } }),
    t.db.route.findMany({ orderBy: { id: "asc" } }),
    t.db.configRevision.count(),
    t.db.auditLog.count({ where: { action: { not: "auth.refused" } } }),
  ]);

describe("model router", () => {
  it("lets every role read, with the API key only as its env var name", async () => {
    const list = await (await t.asUserWith("VIEWER")).list();
    const local = list.endpoints.find((e) => e.name === "local_chat");
    expect(local).toMatchObject({ apiKeyEnv: "LOCAL_MODEL_API_KEY", isDefault: true });
    expect(list.defaultRoute?.modelEndpoint.name).toBe("local_chat");
  });

  it("refuses a viewer, an operator and an approver server-side, changing nothing", async () => {
    const before = await state();
    const endpoint = await t.db.modelEndpoint.findFirstOrThrow();
    for (const role of ["VIEWER", "OPERATOR", "APPROVER"] as const) {
      const caller = await t.asUserWith(role);
      await expect(
        caller.createEndpoint({ name: "evil", baseUrl: "https://evil.test/v1", model: "m" }),
      ).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(caller.updateEndpoint({ id: endpoint.id, enabled: false })).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
      await expect(caller.deleteEndpoint({ id: endpoint.id })).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(caller.setRoute({ conversationId: null, modelEndpointId: endpoint.id })).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
    }
    expect(await state()).toEqual(before);
  });

  it("refuses bad input with field errors and refusals with clear messages, changing nothing", async () => {
    const admin = await t.asUserWith("ADMIN");
    const before = await state();
    const bad = admin.createEndpoint({
      name: "x y",
      baseUrl: "not a url",
      model: "m",
      apiKeyEnv: "sk-live-123",
      timeoutMs: 1,
    });
    await expect(bad).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(bad).rejects.not.toThrow(/sk-live-123/);
    const local = await t.db.modelEndpoint.findUniqueOrThrow({ where: { name: "local_chat" } });
    await expect(admin.updateEndpoint({ id: local.id, enabled: false })).rejects.toMatchObject({
      code: "PRECONDITION_FAILED",
      message: expect.stringMatching(/default route/),
    });
    await expect(admin.deleteEndpoint({ id: local.id })).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
    await expect(
      admin.createEndpoint({ name: "local_chat", baseUrl: "https://x.test/v1", model: "m" }),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(admin.deleteRoute({ id: "missing" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await state()).toEqual(before);
  });

  it("refuses a key env var that is one of the runtime's own settings, with a message for the form", async () => {
    const admin = await t.asUserWith("ADMIN");
    const before = await state();
    for (const apiKeyEnv of ["DATABASE_URL", "${DINGTALK_APP_SECRET}"]) {
      await expect(
        admin.createEndpoint({ name: "exfil", baseUrl: "http://127.0.0.1:9/v1", model: "m", apiKeyEnv }),
      ).rejects.toMatchObject({
        code: "BAD_REQUEST",
        message: expect.stringMatching(
          /^API key env var: (DATABASE_URL|DINGTALK_APP_SECRET) is one of Clawgate's own settings/,
        ),
      });
    }
    const local = await t.db.modelEndpoint.findUniqueOrThrow({ where: { name: "local_chat" } });
    // The form shows the refusal's message as is (errorText).
    await expect(admin.updateEndpoint({ id: local.id, apiKeyEnv: "DATABASE_URL" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("DATABASE_URL is one of Clawgate's own settings"),
    });
    expect(await state()).toEqual(before);
  });

  it("an admin's change commits with its audit entry and a new config revision", async () => {
    const admin = await t.asUserWith("ADMIN");
    const revisions = await t.db.configRevision.count();
    const created = await admin.createEndpoint({
      name: "big",
      baseUrl: "https://llm.internal/v1",
      model: "qwen",
      apiKeyEnv: "${BIG_API_KEY}",
      maxConcurrency: 2,
    });
    expect(created.revision).toBeGreaterThan(0);
    expect(await t.db.modelEndpoint.findUniqueOrThrow({ where: { name: "big" } })).toMatchObject({
      apiKeyEnv: "BIG_API_KEY",
      maxConcurrency: 2,
    });
    const conv = await t.db.conversation.findFirstOrThrow();
    await admin.setRoute({ conversationId: conv.id, modelEndpointId: created.id, maxToolRounds: 3 });
    expect(await t.db.configRevision.count()).toBe(revisions + 2);
    const audit = await t.db.auditLog.findMany({
      where: { action: { in: ["model.create", "route.set"] } },
      orderBy: { id: "asc" },
    });
    expect(audit.map((a) => [a.action, a.targetId, a.traceId])).toEqual([
      ["model.create", "big", "req-ADMIN"],
      ["route.set", conv.conversationId, "req-ADMIN"],
    ]);
    expect(audit[0]?.diff).toMatchObject({ apiKeyEnv: { from: null, to: "BIG_API_KEY" } });

    // Saving the same values again records nothing.
    const unchanged = await admin.setRoute({ conversationId: conv.id, modelEndpointId: created.id, maxToolRounds: 3 });
    expect(unchanged.revision).toBeNull();
    expect(await t.db.configRevision.count()).toBe(revisions + 2);
  });
});
