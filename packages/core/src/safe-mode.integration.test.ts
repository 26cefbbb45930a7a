import { createDb, type Db } from "@clawgate/db";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type { Actor } from "./actor.ts";
import { verifyAuditChain } from "./audit.ts";
import { CONFIG_CHANNEL } from "./revision.ts";
import { decide } from "./policy/decide.ts";
import { loadPolicySnapshot } from "./policy/snapshot.ts";
import { DEMO_CONVERSATION_ID, seedDemo } from "./seed/demo.ts";
import { closeExpiredSafeMode, parseDuration, safeModeStatus, setKillSwitch, setSafeMode } from "./safe-mode.ts";
import { DomainError } from "./errors.ts";

let tdb: TestDatabase;
let db: Db;
const cli: Actor = { type: "CLI", name: "cli:oncall@host" };
const user: Actor = { type: "USER", id: "u1", name: "operator@clawgate.local" };
// Near the real clock: the snapshot loader judges expiry by the database's now().
const T0 = new Date();
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_core_safe" });
  db = createDb(tdb.url, { max: 4 });
  await seedDemo(db, { modelBaseUrl: "http://127.0.0.1:9/v1" });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});
// Each test starts from "off" with no history.
beforeEach(async () => {
  await db.safeModeEvent.deleteMany();
  await db.incidentTrigger.deleteMany();
  await db.incident.deleteMany();
  await db.opsNotice.deleteMany();
});

const counts = async () => ({
  revisions: await db.configRevision.count(),
  audit: await db.auditLog.count(),
  events: await db.safeModeEvent.count(),
});

describe("setSafeMode", () => {
  it("turns on: state, an open event, an audit entry and a config revision in one go, and decide enforces it", async () => {
    const before = await counts();
    const r = await setSafeMode(
      db,
      cli,
      { active: true, level: "READ_ONLY", reason: "incident 42", ttlMs: 2 * 3_600_000, message: "Read-only for now" },
      T0,
      { traceId: "t-1" },
    );
    expect(r).toMatchObject({
      active: true,
      level: "READ_ONLY",
      kind: "on",
      message: "Read-only for now",
      expiresAt: at(120),
    });

    expect(await db.safeModeEvent.findUniqueOrThrow({ where: { id: r.eventId } })).toMatchObject({
      kind: "SAFE_MODE",
      scopes: [],
      message: "Read-only for now",
      level: "READ_ONLY",
      reason: "incident 42",
      actorType: "CLI",
      actorName: "cli:oncall@host",
      startedAt: T0,
      expiresAt: at(120),
      endedAt: null,
    });

    // The audit entry of the switch, and the incident it opened ("incident.open").
    expect(await counts()).toEqual({ revisions: before.revisions + 1, audit: before.audit + 2, events: 1 });
    const trigger = await db.incidentTrigger.findFirstOrThrow({ include: { incident: true } });
    expect(trigger).toMatchObject({ kind: "safe_mode", refId: r.eventId, endedAt: null });
    expect(trigger.incident.status).toBe("OPEN");
    expect((await db.opsNotice.findFirstOrThrow()).title).toBe("Safe mode on");
    const audit = await db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } });
    expect(audit).toMatchObject({
      action: "safe_mode.on",
      actorType: "CLI",
      targetType: "safe_mode",
      targetId: r.eventId,
      configRevision: r.revision,
      traceId: "t-1",
    });
    expect(audit.diff).toMatchObject({ active: { from: false, to: true }, level: "READ_ONLY", reason: "incident 42" });
    expect(await verifyAuditChain(db)).toBeNull();

    // The runtime's snapshot at T0+1min: a write skill is refused with the message, reads still run.
    const snap = await loadPolicySnapshot(db);
    expect(snap.revision).toBe(r.revision);
    expect(snap.safeMode).toMatchObject([{ level: "READ_ONLY", message: "Read-only for now", expiresAt: at(120) }]);
    const ctx = { conversationId: DEMO_CONVERSATION_ID, userId: "u", now: at(1) };
    await db.skill.update({ where: { key: "ticket.create" }, data: { enabled: true } });
    const write = decide(await loadPolicySnapshot(db), ctx, { kind: "skill", skillKey: "ticket.create" });
    expect(write.outcome).toBe("deny");
    expect(write.reasons).toContainEqual({ code: "safe_mode.read_only", detail: "Read-only for now" });
    expect(decide(snap, ctx, { kind: "skill", skillKey: "kb.search" }).outcome).toBe("allow");
    // After the TTL the same snapshot counts as off.
    expect(decide(snap, { ...ctx, now: at(121) }, { kind: "skill", skillKey: "kb.search" }).outcome).toBe("allow");
    await db.skill.update({ where: { key: "ticket.create" }, data: { enabled: false } });
  });

  it("turns off: closes the current event (who, when, why) and clears the state", async () => {
    const on = await setSafeMode(db, user, { active: true, level: "MAINTENANCE", reason: "db failover" }, T0);
    const off = await setSafeMode(db, cli, { active: false, reason: "failover done" }, at(30));
    expect(off).toMatchObject({ active: false, kind: "off", eventId: on.eventId });
    expect(off.revision).toBe(on.revision + 1);
    expect(await db.safeModeEvent.findUniqueOrThrow({ where: { id: on.eventId } })).toMatchObject({
      level: "MAINTENANCE",
      actorType: "USER",
      actorId: "u1",
      endedAt: at(30),
      endedBy: "cli:oncall@host",
      endReason: "failover done",
    });
    const audit = await db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } });
    expect(audit).toMatchObject({ action: "safe_mode.off", targetId: on.eventId, configRevision: off.revision });
    expect((await loadPolicySnapshot(db)).safeMode).toEqual([]);
    // The incident's trigger ended with the activation: it waits for a review.
    expect(await db.incidentTrigger.findFirstOrThrow({ include: { incident: true } })).toMatchObject({
      endedAt: at(30),
      incident: { status: "NEEDS_REVIEW" },
    });
  });

  it("on while on updates the current activation in place; left-out fields are kept", async () => {
    const first = await setSafeMode(
      db,
      cli,
      { active: true, level: "READ_ONLY", reason: "first", ttlMs: 3_600_000, message: "m1" },
      T0,
    );
    const second = await setSafeMode(db, user, { active: true, level: "MAINTENANCE", reason: "escalate" }, at(10));
    expect(second).toMatchObject({
      kind: "update",
      eventId: first.eventId,
      level: "MAINTENANCE",
      expiresAt: at(60),
      message: "m1",
    });
    expect(await db.safeModeEvent.count()).toBe(1);
    expect(await db.safeModeEvent.findUniqueOrThrow({ where: { id: first.eventId } })).toMatchObject({
      level: "MAINTENANCE",
      reason: "first",
      expiresAt: at(60),
    });
    const audit = await db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } });
    expect(audit.diff).toEqual({ reason: "escalate", level: { from: "READ_ONLY", to: "MAINTENANCE" } });

    // A new TTL counts from now; null removes the expiry; "" clears the message.
    const third = await setSafeMode(db, user, { active: true, reason: "longer", ttlMs: 7_200_000 }, at(20));
    expect(third.expiresAt).toEqual(at(140));
    const fourth = await setSafeMode(
      db,
      user,
      { active: true, reason: "open-ended", ttlMs: null, message: "" },
      at(30),
    );
    expect(fourth).toMatchObject({ expiresAt: null, message: null, level: "MAINTENANCE" });
    expect(await db.safeModeEvent.findUniqueOrThrow({ where: { id: first.eventId } })).toMatchObject({
      endedAt: null,
      level: "MAINTENANCE",
      message: null,
    });
  });

  it("on after the TTL elapsed closes the expired activation and opens a new one", async () => {
    const first = await setSafeMode(db, cli, { active: true, reason: "short", ttlMs: 60_000, message: "old" }, T0);
    const second = await setSafeMode(db, cli, { active: true, reason: "again" }, at(5));
    expect(second).toMatchObject({ kind: "on", level: "READ_ONLY", message: null, expiresAt: null });
    expect(second.eventId).not.toBe(first.eventId);
    expect(await db.safeModeEvent.findUniqueOrThrow({ where: { id: first.eventId } })).toMatchObject({
      endedAt: at(1),
      endedBy: "ttl",
      endReason: "expired (TTL elapsed)",
    });
    expect(await db.safeModeEvent.count({ where: { endedAt: null } })).toBe(1);
  });

  it("refuses bad input and off-while-off with clear errors and writes nothing", async () => {
    const before = await counts();
    const refused = async (input: Parameters<typeof setSafeMode>[2]) => {
      const err = await setSafeMode(db, cli, input, T0).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      return (err as DomainError).message;
    };
    expect(await refused({ active: true, reason: "   " })).toMatch(/reason is required/);
    expect(await refused({ active: true, reason: "x", ttlMs: 5_000 })).toMatch(/at least 1 minute/);
    expect(await refused({ active: true, reason: "x", ttlMs: 31 * 86_400_000 })).toMatch(/at most 30 days/);
    expect(await refused({ active: true, reason: "x", level: "PANIC" as "READ_ONLY" })).toMatch(
      /READ_ONLY or MAINTENANCE/,
    );
    expect(await refused({ active: false, reason: "x", level: "MAINTENANCE" })).toMatch(
      /only apply when turning safe mode on/,
    );
    expect(await refused({ active: false, reason: "nothing to do" })).toMatch(/already off/);
    expect(await refused({ active: true, reason: "x", scopes: ["conversation:cid-nowhere"] })).toMatch(
      /conversation:cid-nowhere: no such conversation/,
    );
    expect(await refused({ active: true, reason: "x", scopes: ["skill:no.such"] })).toMatch(/no such skill/);
    expect(await refused({ active: true, reason: "x", scopes: ["risk:SCARY"] })).toMatch(/risk classes are/);
    expect(await refused({ active: true, reason: "x", scopes: ["team:ops"] })).toMatch(/a scope is conversation:ID/);
    expect(
      ((await setSafeMode(db, cli, { active: false, reason: "x" }).catch((e: unknown) => e)) as DomainError).code,
    ).toBe("CONFLICT");
    expect(await counts()).toEqual(before);
    expect(await db.opsNotice.count()).toBe(0);
  });

  it("notifies the runtimes' channel at commit", async () => {
    const client = new pg.Client({ connectionString: tdb.url });
    await client.connect();
    try {
      await client.query(`LISTEN ${CONFIG_CHANNEL}`);
      const got = new Promise<string | undefined>((resolve) => client.once("notification", (n) => resolve(n.payload)));
      const r = await setSafeMode(db, cli, { active: true, reason: "notify" }, T0);
      expect(await got).toBe(String(r.revision));
    } finally {
      await client.end();
    }
  });

  it("two switches at once apply one after the other (one open activation)", async () => {
    const results = await Promise.allSettled([
      setSafeMode(db, cli, { active: true, reason: "a" }, T0),
      setSafeMode(db, user, { active: true, reason: "b", level: "MAINTENANCE" }, T0),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled"]);
    const kinds = results.map((r) => (r.status === "fulfilled" ? r.value.kind : null)).sort();
    expect(kinds).toEqual(["on", "update"]);
    expect(await db.safeModeEvent.count()).toBe(1);
  });
});

describe("scoped activations", () => {
  it("several at once: each with its scope; off names one, or all; off without a name is refused while several are in force", async () => {
    await db.conversation.upsert({
      where: { conversationId: "cid-2" },
      create: { conversationId: "cid-2", type: "GROUP", status: "ENABLED" },
      update: {},
    });
    const conv = await setSafeMode(
      db,
      user,
      { active: true, level: "MAINTENANCE", scopes: ["conversation:cid-2"], reason: "noisy group" },
      T0,
    );
    const writes = await setSafeMode(db, cli, { active: true, scopes: ["risk:WRITE"], reason: "bad writes" }, T0);
    expect(writes.kind).toBe("on");
    expect(writes.eventId).not.toBe(conv.eventId);
    // Both joined one incident.
    expect(await db.incident.count()).toBe(1);
    expect(await db.incidentTrigger.count()).toBe(2);

    await db.skill.update({ where: { key: "ticket.create" }, data: { enabled: true } });
    const snap = await loadPolicySnapshot(db);
    const ctx = (conversationId: string) => ({ conversationId, userId: "u", now: at(1) });
    expect(decide(snap, ctx("cid-2"), { kind: "message" }).reasons.map((r) => r.code)).toEqual([
      "safe_mode.maintenance",
    ]);
    expect(decide(snap, ctx(DEMO_CONVERSATION_ID), { kind: "message" }).outcome).toBe("allow");
    expect(
      decide(snap, ctx(DEMO_CONVERSATION_ID), { kind: "skill", skillKey: "ticket.create" }).reasons.map((r) => r.code),
    ).toEqual(["safe_mode.withdrawn"]);
    expect(decide(snap, ctx(DEMO_CONVERSATION_ID), { kind: "skill", skillKey: "kb.search" }).outcome).toBe("allow");
    await db.skill.update({ where: { key: "ticket.create" }, data: { enabled: false } });

    const status = await safeModeStatus(db, at(1));
    expect(status).toMatchObject({ active: true, level: "MAINTENANCE", killSwitch: null });
    expect(status.activations.map((a) => a.scopes)).toEqual([["conversation:cid-2"], ["risk:WRITE"]]);

    const ambiguous = await setSafeMode(db, cli, { active: false, reason: "x" }, at(2)).catch((e: unknown) => e);
    expect((ambiguous as DomainError).message).toMatch(/2 safe-mode activations are in force: name one/);
    const one = await setSafeMode(db, cli, { active: false, id: conv.eventId, reason: "quiet again" }, at(3));
    expect(one).toMatchObject({ kind: "off", active: true, eventIds: [conv.eventId] });
    const all = await setSafeMode(db, cli, { active: false, all: true, reason: "done" }, at(4));
    expect(all).toMatchObject({ kind: "off", active: false, eventIds: [writes.eventId] });
    expect((await db.incident.findFirstOrThrow()).status).toBe("NEEDS_REVIEW");
  });

  it("expiry: the sweep closes an expired activation exactly once (history, incident, notice, revision)", async () => {
    const on = await setSafeMode(db, cli, { active: true, reason: "short", ttlMs: 60_000 }, T0);
    expect(await closeExpiredSafeMode(db, at(0.5))).toEqual([]);
    const notices = await db.opsNotice.count();
    const sweeps = await Promise.all([closeExpiredSafeMode(db, at(2)), closeExpiredSafeMode(db, at(2))]);
    expect(sweeps.flat()).toEqual([on.eventId]);
    expect(await db.safeModeEvent.findUniqueOrThrow({ where: { id: on.eventId } })).toMatchObject({
      endedAt: at(1),
      endedBy: "ttl",
    });
    expect(await db.opsNotice.count()).toBe(notices + 1);
    expect(await db.incidentTrigger.findFirstOrThrow({ include: { incident: true } })).toMatchObject({
      endedAt: at(1),
      incident: { status: "NEEDS_REVIEW" },
    });
    expect((await db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } })).action).toBe("safe_mode.expire");
  });
});

describe("kill switch", () => {
  it("withdraws every WRITE and DESTRUCTIVE skill; off restores the mixed previous state exactly", async () => {
    const writers = await db.skill.findMany({
      where: { riskClass: { in: ["WRITE", "DESTRUCTIVE"] }, retiredAt: null },
      orderBy: { key: "asc" },
    });
    expect(writers.length).toBeGreaterThanOrEqual(2);
    // A mixed state: the first enabled, the rest disabled.
    await db.skill.update({ where: { key: writers[0]!.key }, data: { enabled: true } });
    for (const w of writers.slice(1)) await db.skill.update({ where: { key: w.key }, data: { enabled: false } });
    const before = await db.skill.findMany({ select: { key: true, enabled: true }, orderBy: { key: "asc" } });

    const on = await setKillSwitch(db, user, { active: true, reason: "runaway writes" }, T0);
    expect(on).toMatchObject({ kind: "on", active: true });
    const audit = await db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } });
    expect(audit).toMatchObject({ action: "kill_switch.on", configRevision: on.revision });
    expect(audit.diff).toMatchObject({ withdrawn: [writers[0]!.key] });
    const snap = await loadPolicySnapshot(db);
    const ctx = { conversationId: DEMO_CONVERSATION_ID, userId: "u", now: at(1) };
    expect(decide(snap, ctx, { kind: "skill", skillKey: writers[0]!.key }).reasons.map((r) => r.code)).toContain(
      "kill_switch",
    );
    expect(decide(snap, ctx, { kind: "skill", skillKey: "kb.search" }).outcome).toBe("allow");
    expect((await db.incidentTrigger.findFirstOrThrow()).kind).toBe("kill_switch");
    const twice = await setKillSwitch(db, user, { active: true, reason: "again" }, T0).catch((e: unknown) => e);
    expect((twice as DomainError).code).toBe("CONFLICT");

    const off = await setKillSwitch(db, cli, { active: false, reason: "fixed" }, at(5));
    expect(off.revision).toBe(on.revision + 1);
    expect(await db.skill.findMany({ select: { key: true, enabled: true }, orderBy: { key: "asc" } })).toEqual(before);
    const after = await loadPolicySnapshot(db);
    expect(decide(after, ctx, { kind: "skill", skillKey: writers[0]!.key }).reasons.map((r) => r.code)).not.toContain(
      "kill_switch",
    );
    expect(decide(after, ctx, { kind: "skill", skillKey: writers[1]!.key }).reasons.map((r) => r.code)).toContain(
      "skill.disabled",
    );
    expect((await db.incident.findFirstOrThrow()).status).toBe("NEEDS_REVIEW");
    expect((await db.opsNotice.findMany({ orderBy: { createdAt: "asc" } })).map((n) => n.title)).toEqual([
      "Kill switch on",
      "Kill switch off",
    ]);
  });
});

describe("parseDuration", () => {
  it("reads a number and a unit, or a combination", () => {
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("30m")).toBe(1_800_000);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("1d")).toBe(86_400_000);
    expect(parseDuration("1w")).toBe(604_800_000);
    expect(parseDuration(" 1H30m ")).toBe(5_400_000);
  });
  it.each(["", "2", "h", "2 h", "-2h", "1.5h", "2hours", "2y", "0h", "abc"])("refuses %j", (text) => {
    expect(() => parseDuration(text)).toThrow(DomainError);
    expect(() => parseDuration(text)).toThrow(/not a duration/);
  });
});
