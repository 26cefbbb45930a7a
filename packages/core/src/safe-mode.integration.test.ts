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
import { parseDuration, setSafeMode } from "./safe-mode.ts";
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
  await db.safeModeState.update({
    where: { id: 1 },
    data: { active: false, level: "READ_ONLY", message: null, currentEventId: null },
  });
  await db.safeModeEvent.deleteMany();
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

    const state = await db.safeModeState.findUniqueOrThrow({ where: { id: 1 }, include: { currentEvent: true } });
    expect(state).toMatchObject({
      active: true,
      level: "READ_ONLY",
      message: "Read-only for now",
      currentEventId: r.eventId,
    });
    expect(state.currentEvent).toMatchObject({
      level: "READ_ONLY",
      reason: "incident 42",
      actorType: "CLI",
      actorName: "cli:oncall@host",
      startedAt: T0,
      expiresAt: at(120),
      endedAt: null,
    });

    expect(await counts()).toEqual({ revisions: before.revisions + 1, audit: before.audit + 1, events: 1 });
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
    expect(snap.safeMode).toMatchObject({ level: "READ_ONLY", message: "Read-only for now", expiresAt: at(120) });
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
    expect(await db.safeModeState.findUniqueOrThrow({ where: { id: 1 } })).toMatchObject({
      active: false,
      message: null,
      currentEventId: null,
    });
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
    expect((await loadPolicySnapshot(db)).safeMode.active).toBe(false);
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
    expect(await db.safeModeState.findUniqueOrThrow({ where: { id: 1 } })).toMatchObject({
      active: true,
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
    expect((await db.safeModeState.findUniqueOrThrow({ where: { id: 1 } })).currentEventId).toBe(second.eventId);
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
    expect(
      ((await setSafeMode(db, cli, { active: false, reason: "x" }).catch((e: unknown) => e)) as DomainError).code,
    ).toBe("CONFLICT");
    expect(await counts()).toEqual(before);
    expect((await db.safeModeState.findUniqueOrThrow({ where: { id: 1 } })).active).toBe(false);
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
