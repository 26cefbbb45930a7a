import { createDb, type Db } from "@clawgate/db";
import { BUILTIN_SKILLS, defineSkill, noSettings } from "@clawgate/skills";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { verifyAuditChain } from "./audit.ts";
import { bootstrapCatalog, DEFAULT_FEATURE_FLAGS } from "./bootstrap.ts";
import { decide } from "./policy/decide.ts";
import { loadPolicySnapshot } from "./policy/snapshot.ts";

let tdb: TestDatabase;
let db: Db;
beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_bootstrap" });
  db = createDb(tdb.url, { max: 8 });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

const revisions = () => db.configRevision.count();
const ctx = { conversationId: "cid-ops", userId: "staff-1", now: new Date() };

describe("bootstrapCatalog", () => {
  it("N replicas starting at once on an empty database: the catalog is created once, in one audited revision", async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => bootstrapCatalog(db)));
    expect(results.filter((r) => r.configRevision !== null)).toHaveLength(1);
    expect(await revisions()).toBe(1);

    const skills = await db.skill.findMany({ orderBy: { key: "asc" } });
    expect(skills.map((s) => s.key)).toEqual(BUILTIN_SKILLS.map((s) => s.key).sort());
    const state = Object.fromEntries(skills.map((s) => [s.key, [s.riskClass, s.enabled, s.requiresApproval]]));
    expect(state).toEqual({
      help: ["READ", true, false],
      status: ["READ", true, false],
      "kb.search": ["READ", true, false],
      "ticket.lookup": ["READ", true, false],
      "ticket.create": ["WRITE", true, true],
      "group.announce": ["WRITE", true, true],
      "http.fetch": ["READ", false, false], // nothing to fetch until an admin lists hosts
    });
    expect(skills.every((s) => s.builtin && s.retiredAt === null)).toBe(true);
    expect(await db.featureFlag.findMany({ select: { key: true, enabled: true }, orderBy: { key: "asc" } })).toEqual(
      DEFAULT_FEATURE_FLAGS.map(({ key, enabled }) => ({ key, enabled })).sort((a, b) => a.key.localeCompare(b.key)),
    );
    expect(await db.safeModeState.count()).toBe(1);

    const [audit] = await db.auditLog.findMany();
    expect(audit).toMatchObject({ action: "system.bootstrap", actorType: "SYSTEM", configRevision: 1 });
    expect((audit!.diff as { changes: unknown[] }).changes).toHaveLength(BUILTIN_SKILLS.length + 4);

    // What the runtime enforces on that catalog: READ allowed, WRITE held for approval.
    await db.conversation.create({ data: { conversationId: "cid-ops", type: "GROUP", status: "ENABLED" } });
    const snap = await loadPolicySnapshot(db);
    expect(decide(snap, ctx, { kind: "skill", skillKey: "kb.search" }).outcome).toBe("allow");
    expect(decide(snap, ctx, { kind: "skill", skillKey: "ticket.create" }).outcome).toBe("needs_approval");
  });

  it("keeps what an admin changed and only follows the manifest's own fields; a re-run is a no-op", async () => {
    await db.skill.update({ where: { key: "kb.search" }, data: { enabled: false, environments: ["TEST"] } });
    await db.skill.update({
      where: { key: "ticket.create" },
      data: { requiresApproval: false, settings: { baseUrl: "https://api.internal" } },
    });
    await db.featureFlag.update({ where: { key: "agent.tools" }, data: { enabled: false } });
    expect(await bootstrapCatalog(db)).toEqual({ changes: [], configRevision: null });
    expect(await revisions()).toBe(1);
    expect(await db.skill.findUniqueOrThrow({ where: { key: "kb.search" } })).toMatchObject({
      enabled: false,
      environments: ["TEST"],
    });
    expect(await db.skill.findUniqueOrThrow({ where: { key: "ticket.create" } })).toMatchObject({
      requiresApproval: false,
      settings: { baseUrl: "https://api.internal" },
    });
    expect((await db.featureFlag.findUniqueOrThrow({ where: { key: "agent.tools" } })).enabled).toBe(false);
    await db.featureFlag.update({ where: { key: "agent.tools" }, data: { enabled: true } });

    // A description edited in the database is the code's: it comes back, in a new revision.
    await db.skill.update({ where: { key: "help" }, data: { description: "edited", timeoutMs: 1 } });
    const fixed = await bootstrapCatalog(db);
    expect(fixed.changes).toEqual([
      {
        target: "skill",
        id: "help",
        action: "update",
        diff: {
          description: { from: "edited", to: BUILTIN_SKILLS[0].description },
          timeoutMs: { from: 1, to: BUILTIN_SKILLS[0].timeoutMs },
        },
      },
    ]);
    expect(fixed.configRevision).toBe(2);
  });

  it("retires a skill the code no longer ships (kept, unknown to the policy), restores it when shipped again", async () => {
    await db.skillRule.create({ data: { skillKey: "status", scope: "GLOBAL", effect: "ALLOW" } });
    // An outside tool stored by someone else is not the code's to retire.
    await db.skill.create({ data: { key: "mcp.wiki.search", description: "outside tool", riskClass: "READ" } });
    const without = BUILTIN_SKILLS.filter((s) => s.key !== "status");
    const retired = await bootstrapCatalog(db, { skills: without });
    expect(retired.changes).toMatchObject([{ target: "skill", id: "status", action: "retire" }]);
    const row = await db.skill.findUniqueOrThrow({ where: { key: "status" }, include: { rules: true } });
    expect(row.retiredAt).not.toBeNull();
    expect(row.rules).toHaveLength(1);
    expect((await db.skill.findUniqueOrThrow({ where: { key: "mcp.wiki.search" } })).retiredAt).toBeNull();

    const snap = await loadPolicySnapshot(db);
    expect(snap.skills.has("status")).toBe(false);
    expect(decide(snap, ctx, { kind: "skill", skillKey: "status" }).reasons.map((r) => r.code)).toEqual([
      "skill.unknown",
    ]);
    expect(await bootstrapCatalog(db, { skills: without })).toEqual({ changes: [], configRevision: null });

    const restored = await bootstrapCatalog(db);
    expect(restored.changes).toMatchObject([{ target: "skill", id: "status", action: "restore" }]);
    expect((await db.skill.findUniqueOrThrow({ where: { key: "status" } })).retiredAt).toBeNull();
    expect((await loadPolicySnapshot(db)).skills.has("status")).toBe(true);
  });

  it("adds a skill a release ships; a risk class that goes up never loosens", async () => {
    const newSkill = defineSkill({
      key: "wiki.page",
      description: "Read a wiki page.",
      riskClass: "READ",
      requiresApproval: false,
      enabledByDefault: true,
      timeoutMs: 3_000,
      cacheTtlSeconds: 0,
      settings: noSettings,
      input: z.object({}),
    });
    const lookup = BUILTIN_SKILLS.find((s) => s.key === "ticket.lookup")!;
    const lookupAsWrite = { ...lookup, riskClass: "WRITE" as const, requiresApproval: true };
    const release = [...BUILTIN_SKILLS.filter((s) => s.key !== "ticket.lookup"), lookupAsWrite, newSkill];
    const before = await revisions();
    const result = await bootstrapCatalog(db, { skills: release });
    expect(result.changes.map((c) => [c.id, c.action])).toEqual([
      ["ticket.lookup", "update"],
      ["wiki.page", "create"],
    ]);
    expect(await db.skill.findUniqueOrThrow({ where: { key: "wiki.page" } })).toMatchObject({
      enabled: true,
      builtin: true,
    });
    // Enabled as a READ skill, it now waits for an approver (the manifest's approval applies).
    expect(await db.skill.findUniqueOrThrow({ where: { key: "ticket.lookup" } })).toMatchObject({
      riskClass: "WRITE",
      enabled: true,
      requiresApproval: true,
    });
    expect(await revisions()).toBe(before + 1);
    expect(await verifyAuditChain(db)).toBeNull();
  });
});
