// The shared router-test setup goes first: it neutralises server-only and next-auth before trpc.ts loads.
import { routerTest } from "../test-caller.ts";
import { seedDemo } from "@clawgate/core";
import { describe, expect, it } from "vitest";
import { createTRPCRouter } from "../trpc.ts";
import { safeModeRouter } from "./safe-mode.ts";

const t = routerTest(createTRPCRouter({ safeMode: safeModeRouter }), {
  prefix: "clawgate_console_safemode",
  seed: (db) => seedDemo(db, { modelBaseUrl: "http://127.0.0.1:9/v1" }),
});
const counts = async () => ({
  audit: await t.db.auditLog.count({ where: { action: { not: "auth.refused" } } }),
  revisions: await t.db.configRevision.count(),
  events: await t.db.safeModeEvent.count(),
});

describe("safeMode router", () => {
  it("viewers and approvers read but cannot switch", async () => {
    expect(await t.as("VIEWER").safeMode.get()).toMatchObject({ active: false, activations: [], killSwitch: null });
    const before = await counts();
    for (const role of ["VIEWER", "APPROVER"] as const) {
      await expect(t.as(role).safeMode.set({ active: true, reason: "no" })).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
      await expect(t.as(role).safeMode.killSwitch({ active: true, reason: "no" })).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
    }
    expect(await counts()).toEqual(before);
  });

  it("an operator switches it on and off; each is one audited config revision; history pages newest first", async () => {
    const on = await t
      .as("OPERATOR")
      .safeMode.set({ active: true, level: "MAINTENANCE", reason: "incident", ttlMs: 3_600_000, message: "Back soon" });
    expect(on).toMatchObject({ active: true, level: "MAINTENANCE", kind: "on", message: "Back soon" });
    expect(on).not.toHaveProperty("audit");
    const state = await t.as("VIEWER").safeMode.get();
    expect(state).toMatchObject({
      active: true,
      level: "MAINTENANCE",
      activations: [{ message: "Back soon", scopes: [], reason: "incident", actorName: "operator@example.test" }],
    });
    expect(await t.db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } })).toMatchObject({
      action: "safe_mode.on",
      actorId: "u-operator",
      configRevision: on.revision,
      traceId: "req-OPERATOR",
    });

    const off = await t.as("ADMIN").safeMode.set({ active: false, reason: "resolved" });
    expect(off).toMatchObject({ active: false, kind: "off", revision: on.revision! + 1 });
    await t.as("ADMIN").safeMode.set({ active: true, reason: "second" });
    await t.as("ADMIN").safeMode.set({ active: false, reason: "done" });

    const page1 = await t.as("VIEWER").safeMode.history({ limit: 1 });
    expect(page1.items.map((e) => e.reason)).toEqual(["second"]);
    expect(page1.total).toBe(2);
    const page2 = await t.as("VIEWER").safeMode.history({ limit: 1, cursor: page1.nextCursor! });
    expect(page2.items).toMatchObject([{ reason: "incident", endedBy: "admin@example.test", endReason: "resolved" }]);
    expect(page2.nextCursor).toBeNull();
  });

  it("bad input and off-while-off get clear errors and write nothing", async () => {
    const before = await counts();
    const op = t.as("OPERATOR");
    await expect(op.safeMode.set({ active: true, reason: "  " })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(op.safeMode.set({ active: true, reason: "x", ttlMs: 1 })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(op.safeMode.set({ active: false, reason: "again" })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(/already off/),
    });
    await expect(
      op.safeMode.set({ active: true, reason: "x", scopes: ["conversation:cid-nowhere"] }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/no such conversation/) });
    await expect(op.safeMode.killSwitch({ active: false, reason: "x" })).rejects.toMatchObject({ code: "CONFLICT" });
    expect(await counts()).toEqual(before);
  });

  it("scoped activations and the kill switch: one audited config revision each; the skills list shows the effect", async () => {
    const op = t.as("OPERATOR");
    const scoped = await op.safeMode.set({
      active: true,
      level: "READ_ONLY",
      scopes: ["skill:kb.search"],
      reason: "search flaky",
      ttlMs: 3_600_000,
    });
    expect(scoped).toMatchObject({ kind: "on", scopes: ["skill:kb.search"] });
    const kill = await op.safeMode.killSwitch({ active: true, reason: "writes" });
    expect(kill).toMatchObject({ kind: "on", active: true, revision: scoped.revision! + 1 });
    expect(await t.as("VIEWER").safeMode.get()).toMatchObject({
      activations: [{ scopes: ["skill:kb.search"] }],
      killSwitch: { reason: "writes", actorName: "operator@example.test" },
    });
    expect((await t.db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } })).action).toBe("kill_switch.on");
    const { listSkills } = await import("@clawgate/core/console/skills.ts");
    const skills = await listSkills(t.db);
    expect(skills.find((s) => s.key === "kb.search")?.withdrawnBy).toBe("safe_mode");
    expect(skills.find((s) => s.key === "ticket.create")?.withdrawnBy).toBe("kill_switch");
    await op.safeMode.killSwitch({ active: false, reason: "fixed" });
    await op.safeMode.set({ active: false, all: true, reason: "done" });
    expect((await listSkills(t.db)).every((s) => s.withdrawnBy === null)).toBe(true);
  });
});
