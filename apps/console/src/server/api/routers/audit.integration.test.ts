// The shared router-test setup goes first: it neutralises server-only and next-auth before trpc.ts loads.
import { routerTest } from "../test-caller.ts";
import { appendAudit } from "@clawgate/core";
import { describe, expect, it } from "vitest";
import { createTRPCRouter } from "../trpc.ts";
import { auditRouter } from "./audit.ts";
import { overviewRouter } from "./overview.ts";

const t = routerTest(createTRPCRouter({ audit: auditRouter, overview: overviewRouter }), {
  prefix: "clawgate_console_audit",
  seed: async (db) => {
    for (let i = 0; i < 3; i++) {
      await db.$transaction((tx) =>
        appendAudit(tx, {
          actor: { type: "CLI", name: "ops" },
          action: `skill.update`,
          targetType: "skill",
          targetId: `s${i}`,
        }),
      );
    }
  },
});

describe("audit and overview routers (read-only, every signed-in role)", () => {
  it("a viewer pages the audit log, lists target types and verifies the chain", async () => {
    const viewer = t.as("VIEWER");
    const p1 = await viewer.audit.list({ limit: 2 });
    expect(p1.items.map((i) => i.targetId)).toEqual(["s2", "s1"]);
    const p2 = await viewer.audit.list({ limit: 2, cursor: p1.nextCursor! });
    expect(p2).toMatchObject({ items: [{ targetId: "s0" }], nextCursor: null });
    expect(await viewer.audit.targetTypes()).toEqual(["skill"]);
    expect(await viewer.audit.verify()).toMatchObject({ ok: true, rows: 3 });
    expect(await t.db.auditLog.count()).toBe(3); // verifying writes nothing
  });

  it("a viewer reads the overview", async () => {
    const o = await t.as("VIEWER").overview.get();
    expect(o.last24h.hourly).toHaveLength(24);
  });

  it("signed-out callers are refused; bad filters are refused with a clear message", async () => {
    await expect(t.as(null).audit.list()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    await expect(t.as(null).overview.get()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    await expect(t.as("VIEWER").audit.list({ cursor: "abc" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringMatching(/cursor must be a row id/),
    });
  });
});
