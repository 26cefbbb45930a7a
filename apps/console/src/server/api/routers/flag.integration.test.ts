// The shared router-test setup goes first: it neutralises server-only and next-auth before trpc.ts loads.
import { routerTest } from "../test-caller.ts";
import { seedDemo } from "@clawgate/core";
import { describe, expect, it } from "vitest";
import { createTRPCRouter } from "../trpc.ts";
import { flagRouter } from "./flag.ts";

const t = routerTest(createTRPCRouter({ flag: flagRouter }), {
  prefix: "clawgate_console_flag",
  seed: (db) => seedDemo(db, { modelBaseUrl: "http://127.0.0.1:9/v1" }),
});
const counts = async () => ({
  audit: await t.db.auditLog.count({ where: { action: { not: "auth.refused" } } }),
  revisions: await t.db.configRevision.count(),
  flags: await t.db.featureFlag.count(),
});

describe("flag router", () => {
  it("every role lists; only ADMIN toggles or creates", async () => {
    expect((await t.as("VIEWER").flag.list()).map((f) => f.key)).toEqual([
      "agent.tools",
      "approvals.dingtalk_cards",
      "replies.markdown",
    ]);
    const before = await counts();
    for (const role of ["VIEWER", "OPERATOR", "APPROVER"] as const) {
      await expect(t.as(role).flag.toggle({ key: "agent.tools", enabled: false })).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
      await expect(t.as(role).flag.create({ key: "x.y", description: "d" })).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
    }
    expect(await counts()).toEqual(before);
  });

  it("an admin creates and toggles: change, audit entry and config revision together", async () => {
    const admin = t.as("ADMIN");
    const created = await admin.flag.create({ key: "replies.cards", description: "Cards instead of markdown" });
    expect(created).toMatchObject({ key: "replies.cards", enabled: false });
    const on = await admin.flag.toggle({ key: "replies.cards", enabled: true });
    expect(on.revision).toBe(created.revision! + 1);
    const audit = await t.db.auditLog.findMany({ where: { targetId: "replies.cards" }, orderBy: { id: "asc" } });
    expect(audit.map((a) => [a.action, a.actorId, a.configRevision])).toEqual([
      ["flag.create", "u-admin", created.revision],
      ["flag.update", "u-admin", on.revision],
    ]);
  });

  it("bad keys and duplicates get clear errors, a no-op answers changed: false; nothing is written", async () => {
    const before = await counts();
    const admin = t.as("ADMIN");
    await expect(admin.flag.create({ key: "Not A Key", description: "d" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(admin.flag.create({ key: "agent.tools", description: "d" })).rejects.toMatchObject({
      code: "CONFLICT",
    });
    // A toggle to the state it is in is not an error: nothing changed, nothing written.
    expect(await admin.flag.toggle({ key: "agent.tools", enabled: true })).toMatchObject({
      enabled: true,
      revision: null,
      changed: false,
    });
    await expect(admin.flag.toggle({ key: "no.such", enabled: true })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await counts()).toEqual(before);
  });
});
