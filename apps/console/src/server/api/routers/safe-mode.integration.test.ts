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
    expect(await t.as("VIEWER").safeMode.get()).toMatchObject({ active: false, event: null });
    const before = await counts();
    for (const role of ["VIEWER", "APPROVER"] as const) {
      await expect(t.as(role).safeMode.set({ active: true, reason: "no" })).rejects.toMatchObject({
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
      message: "Back soon",
      expired: false,
      event: { reason: "incident", actorName: "operator@example.test" },
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
    expect(await counts()).toEqual(before);
  });
});
