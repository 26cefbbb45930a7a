// The shared router-test setup goes first: it neutralises server-only and next-auth before trpc.ts loads.
import { routerTest } from "../test-caller.ts";
import { bootstrapCatalog, seedDemo } from "@clawgate/core";
import { BUILTIN_SKILLS } from "@clawgate/skills";
import { describe, expect, it } from "vitest";
import { createTRPCRouter } from "../trpc.ts";
import { skillRouter } from "./skill.ts";

const t = routerTest(createTRPCRouter({ skill: skillRouter }), {
  prefix: "clawgate_console_skill",
  seed: (db) => seedDemo(db, { modelBaseUrl: "http://127.0.0.1:9/v1" }),
});
const counts = async () => ({
  audit: await t.db.auditLog.count({ where: { action: { not: "auth.refused" } } }),
  revisions: await t.db.configRevision.count(),
  rules: await t.db.skillRule.count(),
});

describe("skill router", () => {
  it("every role reads the list, a skill with its rules, and the 'why?' check", async () => {
    const viewer = t.as("VIEWER");
    expect((await viewer.skill.list()).find((s) => s.key === "kb.search")).toMatchObject({
      enabled: true,
      rules: { allow: 0, deny: 0 },
    });
    expect(await viewer.skill.get({ key: "kb.search" })).toMatchObject({
      key: "kb.search",
      rules: [],
      requiresFlag: null,
    });
    await expect(viewer.skill.get({ key: "nope" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    const why = await viewer.skill.check({ skillKey: "kb.search", conversationId: "cid-demo-group", userId: "u1" });
    expect(why).toMatchObject({ outcome: "allow", reasons: [] });
  });

  it("refuses every role but ADMIN server-side, changing nothing", async () => {
    const before = await counts();
    for (const role of ["VIEWER", "OPERATOR", "APPROVER"] as const) {
      const c = t.as(role);
      await expect(c.skill.update({ key: "kb.search", enabled: false })).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(
        c.skill.addRule({ skillKey: "kb.search", scope: "USER", subject: "x", effect: "DENY" }),
      ).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(c.skill.removeRule({ id: "x" })).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(
        c.skill.updateSettings({ key: "http.fetch", settings: { allowedHosts: ["evil.example"] } }),
      ).rejects.toMatchObject({ code: "FORBIDDEN" });
    }
    expect(await counts()).toEqual(before);
    expect((await t.db.skill.findUniqueOrThrow({ where: { key: "kb.search" } })).enabled).toBe(true);
    expect((await t.db.skill.findUniqueOrThrow({ where: { key: "http.fetch" } })).settings).toEqual({});
  });

  it("every role reads a skill's settings; an admin's settings change is audited with a revision, a bad one refused", async () => {
    expect(await t.as("VIEWER").skill.get({ key: "http.fetch" })).toMatchObject({
      settings: {},
      settingsFields: expect.arrayContaining([
        expect.objectContaining({ name: "allowPrivateNetworks", type: "boolean" }),
      ]),
    });
    const admin = t.as("ADMIN");
    const before = await counts();
    await expect(
      admin.skill.updateSettings({ key: "http.fetch", settings: { allowedHosts: ["wiki.corp.example:0"] } }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/allowedHosts\.0: must be/) });
    expect(await counts()).toEqual(before);

    const res = await admin.skill.updateSettings({
      key: "http.fetch",
      settings: { allowedHosts: ["wiki.corp.example:8443"] },
    });
    const rev = await t.db.configRevision.findFirstOrThrow({ orderBy: { id: "desc" } });
    expect(res).toMatchObject({ key: "http.fetch", revision: rev.id });
    expect(await t.db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } })).toMatchObject({
      action: "skill.settings.update",
      targetType: "skill",
      targetId: "http.fetch",
      actorId: "u-admin",
      configRevision: rev.id,
    });
    expect(await counts()).toEqual({ ...before, audit: before.audit + 1, revisions: before.revisions + 1 });
  });

  it("an admin's update: change, audit entry and config revision together", async () => {
    const res = await t.as("ADMIN").skill.update({ key: "kb.search", enabled: false });
    const rev = await t.db.configRevision.findFirstOrThrow({ orderBy: { id: "desc" } });
    expect(res).toMatchObject({ key: "kb.search", enabled: false, revision: rev.id });
    expect(await t.db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } })).toMatchObject({
      action: "skill.update",
      targetType: "skill",
      targetId: "kb.search",
      actorId: "u-admin",
      traceId: "req-ADMIN",
      configRevision: rev.id,
      diff: { enabled: { from: true, to: false } },
    });
    await t.as("ADMIN").skill.update({ key: "kb.search", enabled: true });
  });

  it("rules: add and remove are audited config changes", async () => {
    const admin = t.as("ADMIN");
    const added = await admin.skill.addRule({
      skillKey: "kb.search",
      scope: "CONVERSATION",
      subject: "cid-demo-group",
      effect: "DENY",
    });
    expect((await t.db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } })).action).toBe("skill.rule.add");
    expect(
      (await admin.skill.check({ skillKey: "kb.search", conversationId: "cid-demo-group", userId: "u1" })).reasons.map(
        (r) => r.code,
      ),
    ).toEqual(["rule.deny.conversation"]);
    const removed = await admin.skill.removeRule({ id: added.id });
    expect(removed.revision).toBe(added.revision! + 1);
    expect((await t.db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } })).action).toBe("skill.rule.remove");
  });

  it("bad input gets clear errors, a no-op answers changed: false; nothing is written", async () => {
    const before = await counts();
    const admin = t.as("ADMIN");
    await expect(admin.skill.update({ key: "kb.search" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(admin.skill.update({ key: "kb.search", environments: [] })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    expect(await admin.skill.update({ key: "kb.search", enabled: true })).toMatchObject({
      revision: null,
      changed: false,
    });
    await expect(admin.skill.update({ key: "kb.search", requiresApproval: true })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringMatching(/READ skill/),
    });
    await expect(admin.skill.update({ key: "nope", enabled: true })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      admin.skill.addRule({ skillKey: "kb.search", scope: "GLOBAL", subject: "x", effect: "DENY" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(admin.skill.removeRule({ id: "missing" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(admin.skill.check({ skillKey: "kb.search", conversationId: "", userId: "u" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    expect(await counts()).toEqual(before);
  });

  it("lists a retired skill as retired; its settings cannot be changed", async () => {
    await bootstrapCatalog(t.db, { skills: BUILTIN_SKILLS.filter((s) => s.key !== "status") });
    const listed = (await t.as("VIEWER").skill.list()).find((s) => s.key === "status");
    expect(listed?.retiredAt).toBeInstanceOf(Date);
    const before = await counts();
    await expect(t.as("ADMIN").skill.update({ key: "status", enabled: false })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: '"status" is retired (no longer shipped): it cannot be changed or used.',
    });
    await expect(
      t.as("ADMIN").skill.addRule({ skillKey: "status", scope: "USER", subject: "u1", effect: "DENY" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(await counts()).toEqual(before);
    await bootstrapCatalog(t.db); // shipped again: restored
    expect((await t.as("VIEWER").skill.list()).find((s) => s.key === "status")?.retiredAt).toBeNull();
  });
});
