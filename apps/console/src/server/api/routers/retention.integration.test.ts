// The shared router-test setup goes first: it neutralises server-only and next-auth before trpc.ts loads.
import { routerTest } from "../test-caller.ts";
import { RETENTION_DEFAULTS } from "@clawgate/core/retention.ts";
import { describe, expect, it } from "vitest";
import { createTRPCRouter } from "../trpc.ts";
import { retentionRouter } from "./retention.ts";

// No demo seed: a database that only saw the migrations (and the test's users).
const t = routerTest(createTRPCRouter({ retention: retentionRouter }), { prefix: "clawgate_console_retention" });
const counts = async () => ({
  // Refusals are audited (auth.refused); what is counted is what a save writes.
  audit: await t.db.auditLog.count({ where: { action: { not: "auth.refused" } } }),
  revisions: await t.db.configRevision.count(),
  sections: await t.db.configSection.count(),
});
const next = { ...RETENTION_DEFAULTS, messages: 30, audit: null };

describe("retention router", () => {
  it("every role reads the periods (defaults on a fresh database); only ADMIN sets them", async () => {
    expect((await t.as("VIEWER").retention.get()).periods).toEqual(RETENTION_DEFAULTS);
    const before = await counts();
    for (const role of ["VIEWER", "OPERATOR", "APPROVER"] as const)
      await expect(t.as(role).retention.set(next)).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await counts()).toEqual(before);
  });

  it("an admin sets them: section, audit entry and config revision together; a no-op writes nothing", async () => {
    const saved = await t.as("ADMIN").retention.set(next);
    expect(saved).toMatchObject({ periods: next, changed: true });
    expect(saved.summary).toBe("Retention: messages 90 d → 30 d, audit 400 d → forever");
    const audit = await t.db.auditLog.findFirstOrThrow({ where: { action: "retention.update" } });
    expect(audit).toMatchObject({ actorId: "u-admin", configRevision: saved.revision });
    expect(audit.diff).toEqual({ messages: { from: 90, to: 30 }, audit: { from: 400, to: null } });
    expect((await t.as("VIEWER").retention.get()).periods).toEqual(next);
    const before = await counts();
    expect(await t.as("ADMIN").retention.set(next)).toMatchObject({ changed: false, revision: null });
    expect(await counts()).toEqual(before);
  });

  it("bad periods get a clear error and change nothing", async () => {
    const before = await counts();
    await expect(t.as("ADMIN").retention.set({ ...next, memory: 0 })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(t.as("ADMIN").retention.set({ ...next, memory: 1.5 })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(await counts()).toEqual(before);
  });
});
