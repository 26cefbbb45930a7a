import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { recordConfigChange } from "../revision.ts";
import { DEMO_CONVERSATION_ID, seedDemo } from "../seed/demo.ts";
import { decide, type PolicyContext } from "./decide.ts";
import { activationsInForce, loadPolicySnapshot } from "./snapshot.ts";

let tdb: TestDatabase;
let db: Db;
const NOW = () => new Date();
const ctx = (over: Partial<PolicyContext> = {}): PolicyContext => ({
  conversationId: DEMO_CONVERSATION_ID,
  userId: "u-alice",
  now: NOW(),
  ...over,
});
const actor = { type: "CLI" as const, name: "policy-test" };

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createDb(tdb.url, { max: 4 });
  await seedDemo(db, { modelBaseUrl: "http://127.0.0.1:9/v1" });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

describe("loadPolicySnapshot", () => {
  it("reads the seeded demo policy at its revision", async () => {
    const snap = await loadPolicySnapshot(db);
    expect(snap.revision).toBe(1);
    expect(snap.conversations.get(DEMO_CONVERSATION_ID)).toMatchObject({
      status: "ENABLED",
      environment: "TEST",
      type: "GROUP",
    });
    expect(snap.flags.get("agent.tools")).toBe(true);
    expect(snap.safeMode).toEqual([]);
    expect(decide(snap, ctx(), { kind: "message" }).outcome).toBe("allow");
    expect(decide(snap, ctx(), { kind: "skill", skillKey: "kb.search" }).outcome).toBe("allow");
    // Writes ship enabled and wait for an approver.
    expect(decide(snap, ctx(), { kind: "skill", skillKey: "ticket.create" }).reasons.map((r) => r.code)).toEqual([
      "approval.required",
    ]);
    expect(
      decide(snap, ctx({ conversationId: "cid-never-seen" }), { kind: "message" }).reasons.map((r) => r.code),
    ).toEqual(["conversation.unknown"]);
  });

  it("reflects rules, flags, conversations, environments and approvals written to the database", async () => {
    await db.$transaction(async (tx) => {
      await tx.skill.update({ where: { key: "ticket.create" }, data: { enabled: true } });
      await tx.skill.update({ where: { key: "http.fetch" }, data: { enabled: true, environments: ["PROD"] } });
      await tx.skill.update({ where: { key: "ticket.lookup" }, data: { settings: { requiresFlag: "tickets.beta" } } });
      await tx.skillRule.createMany({
        data: [
          { skillKey: "kb.search", scope: "USER", subject: "u-mallory", effect: "DENY" },
          { skillKey: "status", scope: "CONVERSATION", subject: "cid-ops", effect: "ALLOW" },
          { skillKey: "help", scope: "GLOBAL", subject: "", effect: "DENY" },
        ],
      });
      await tx.conversation.create({
        data: { conversationId: "cid-ops", type: "GROUP", environment: "PROD", status: "ENABLED" },
      });
      await tx.conversation.create({ data: { conversationId: "cid-new", type: "SINGLE" } });
      await recordConfigChange(tx, { actor, action: "config.onboard", targetType: "test", summary: "rules" });
    });
    const snap = await loadPolicySnapshot(db);
    expect(snap.revision).toBe(2);
    const codes = (c: Partial<PolicyContext>, skillKey: string) =>
      decide(snap, ctx(c), { kind: "skill", skillKey }).reasons.map((r) => r.code);

    expect(decide(snap, ctx(), { kind: "skill", skillKey: "ticket.create" }).outcome).toBe("needs_approval");
    expect(codes({}, "http.fetch")).toEqual(["skill.environment"]);
    expect(codes({ conversationId: "cid-ops" }, "http.fetch")).toEqual([]);
    expect(codes({}, "ticket.lookup")).toEqual(["flag.off"]);
    expect(codes({ userId: "u-mallory" }, "kb.search")).toEqual(["rule.deny.user"]);
    expect(codes({}, "status")).toEqual(["rule.not_allowlisted.conversation"]);
    expect(codes({ conversationId: "cid-ops" }, "status")).toEqual([]);
    expect(codes({}, "help")).toEqual(["rule.deny.global"]);
    expect(decide(snap, ctx({ conversationId: "cid-new" }), { kind: "message" }).reasons.map((r) => r.code)).toEqual([
      "conversation.pending",
    ]);

    await db.featureFlag.update({ where: { key: "agent.tools" }, data: { enabled: false } });
    expect(codes({}, "kb.search")).toEqual([]); // the held snapshot does not change under it
    expect(
      decide(await loadPolicySnapshot(db), ctx(), { kind: "skill", skillKey: "kb.search" }).reasons.map((r) => r.code),
    ).toEqual(["flag.off"]);
    await db.featureFlag.update({ where: { key: "agent.tools" }, data: { enabled: true } });
  });

  it("reads safe mode with its message and expiry; an expired activation loads as off", async () => {
    const setSafeMode = async (level: "READ_ONLY" | "MAINTENANCE", expiresAt: Date | null, message: string | null) => {
      await db.safeModeEvent.updateMany({ where: { endedAt: null }, data: { endedAt: new Date() } });
      await db.safeModeEvent.create({
        data: { level, reason: "test", actorType: "CLI", actorName: "t", expiresAt, message },
      });
    };
    await setSafeMode("MAINTENANCE", new Date(Date.now() + 3_600_000), "Back at 14:00.");
    let snap = await loadPolicySnapshot(db);
    expect(snap.safeMode).toMatchObject([{ kind: "SAFE_MODE", level: "MAINTENANCE", message: "Back at 14:00." }]);
    expect(decide(snap, ctx(), { kind: "message" }).reasons).toEqual([
      { code: "safe_mode.maintenance", detail: "Back at 14:00." },
    ]);

    await setSafeMode("READ_ONLY", null, null);
    snap = await loadPolicySnapshot(db);
    expect(decide(snap, ctx(), { kind: "skill", skillKey: "kb.search" }).outcome).toBe("allow");
    expect(decide(snap, ctx(), { kind: "skill", skillKey: "ticket.create" }).reasons.map((r) => r.code)).toEqual([
      "safe_mode.read_only",
    ]);

    await setSafeMode("MAINTENANCE", new Date(Date.now() - 1_000), "stale");
    snap = await loadPolicySnapshot(db);
    expect(activationsInForce(snap.safeMode, snap.loadedAt)).toEqual([]);
    expect(decide(snap, ctx(), { kind: "message" }).outcome).toBe("allow");
  });
});
