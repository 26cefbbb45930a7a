import { createDb, type Db } from "@clawgate/db";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Actor } from "./actor.ts";
import { appendAudit, signCheckpoint, verifyAudit, verifyAuditChain } from "./audit.ts";
import { exportConfig } from "./config/export.ts";
import { applyOnboard, parseOnboardConfig } from "./config/onboard.ts";
import { purgeRetention, readRetention, RETENTION_DEFAULTS } from "./retention.ts";

const actor: Actor = { type: "CLI", name: "retention-test" };
const KEY = "k".repeat(40);
const DAY = 86_400_000;
let tdb: TestDatabase;
let db: Db;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createDb(tdb.url, { max: 6 });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

let n = 0;
const ago = (now: Date, days: number) => new Date(now.getTime() - days * DAY);

async function message(receivedAt: Date, status: "REPLIED" | "PROCESSING" = "REPLIED") {
  const id = `m${++n}`;
  await db.inboundMessage.create({
    data: {
      id,
      robotCode: "ding",
      msgId: id,
      channel: "HTTP",
      conversationId: "cid-r",
      senderId: "u",
      msgType: "text",
      payload: {},
      status,
      traceId: id,
      receivedAt,
    },
  });
  return id;
}
async function invocation(createdAt: Date) {
  const row = await db.skillInvocation.create({
    data: {
      traceId: "t",
      conversationId: "cid-r",
      userId: "u",
      skillKey: "kb.search",
      decision: "ALLOW",
      outcome: "SUCCESS",
      configRevision: 1,
      createdAt,
    },
  });
  return row.id;
}
async function outbound(createdAt: Date, status: "SENT" | "PENDING" = "SENT") {
  const row = await db.outboundMessage.create({
    data: {
      idempotencyKey: `o${++n}`,
      conversationId: "cid-r",
      channel: "SESSION_WEBHOOK",
      msgType: "text",
      payload: {},
      traceId: "t",
      status,
      createdAt,
    },
  });
  return row.id;
}
const exists = {
  message: async (id: string) => (await db.inboundMessage.count({ where: { id } })) === 1,
  invocation: async (id: string) => (await db.skillInvocation.count({ where: { id } })) === 1,
  outbound: async (id: string) => (await db.outboundMessage.count({ where: { id } })) === 1,
};

describe("retention periods", () => {
  it("defaults, then the onboarding file's section (a kind left out keeps its default; null keeps forever), exported back as given", async () => {
    expect(await readRetention(db)).toEqual(RETENTION_DEFAULTS);
    const yaml = "retention:\n  messages: 30\n  invocations: null\n";
    const { changes } = await applyOnboard(db, parseOnboardConfig(yaml), { actor });
    expect(changes).toMatchObject([{ target: "section", id: "retention", action: "create" }]);
    expect((await applyOnboard(db, parseOnboardConfig(yaml), { actor })).changes).toEqual([]);
    expect(await readRetention(db)).toEqual({ ...RETENTION_DEFAULTS, messages: 30, invocations: null });
    const exported = await exportConfig(db);
    expect(exported.retention).toEqual({ messages: 30, invocations: null });
    expect(() => parseOnboardConfig("retention:\n  messages: 0\n")).toThrow();
    expect(() => parseOnboardConfig("retention:\n  forever: 3\n")).toThrow();
  });
});

describe("purge", () => {
  it("deletes what is older than its kind's period, keeps the rest, in-flight rows and unreviewed incidents' windows", async () => {
    const now = new Date();
    // messages 30 d (set above), invocations forever, outbound 90 d (default)
    const oldMsg = await message(ago(now, 40));
    const newMsg = await message(ago(now, 20));
    const busyMsg = await message(ago(now, 40), "PROCESSING");
    const inWindow = await message(ago(now, 50));
    const reviewedWindow = await message(ago(now, 60));
    const oldInv = await invocation(ago(now, 1000));
    const oldOut = await outbound(ago(now, 100));
    const pendingOut = await outbound(ago(now, 100), "PENDING");
    const newOut = await outbound(ago(now, 10));
    await db.incident.create({
      data: { title: "t", status: "NEEDS_REVIEW", openedAt: ago(now, 51), closedAt: ago(now, 49), openedBy: "x" },
    });
    await db.incident.create({
      data: { title: "t", status: "REVIEWED", openedAt: ago(now, 61), closedAt: ago(now, 59), openedBy: "x" },
    });

    const dry = await purgeRetention(db, { actor, now, dryRun: true, signingKey: KEY });
    expect(dry.counts).toMatchObject({ InboundMessage: 2, OutboundMessage: 1 });
    expect(dry.counts.SkillInvocation).toBeUndefined();
    expect(await exists.message(oldMsg)).toBe(true);

    const auditBefore = await db.auditLog.count();
    const r = await purgeRetention(db, { actor, now, signingKey: KEY, batchSize: 1 });
    expect(r.counts).toMatchObject({ InboundMessage: 2, OutboundMessage: 1 });
    expect(r.keptIncidents).toHaveLength(1);
    expect(await exists.message(oldMsg)).toBe(false);
    expect(await exists.message(reviewedWindow)).toBe(false);
    expect(await exists.message(newMsg)).toBe(true);
    expect(await exists.message(busyMsg)).toBe(true);
    expect(await exists.message(inWindow)).toBe(true);
    expect(await exists.invocation(oldInv)).toBe(true);
    expect(await exists.outbound(oldOut)).toBe(false);
    expect(await exists.outbound(pendingOut)).toBe(true);
    expect(await exists.outbound(newOut)).toBe(true);
    // One audit entry for the run, with the counts.
    const entries = await db.auditLog.findMany({ where: { action: "retention.purge" } });
    expect(entries).toHaveLength(1);
    expect(entries[0]!.diff).toMatchObject({ counts: { InboundMessage: 2, OutboundMessage: 1 } });
    expect(await db.auditLog.count()).toBe(auditBefore + 1);

    // Reviewed: its window goes at the next run.
    await db.incident.updateMany({ where: { status: "NEEDS_REVIEW" }, data: { status: "REVIEWED" } });
    await purgeRetention(db, { actor, now, signingKey: KEY });
    expect(await exists.message(inWindow)).toBe(false);
  });
});

describe("audit purge and verification", () => {
  it("refuses a delete of audit rows outside the purge", async () => {
    await expect(db.auditLog.deleteMany({})).rejects.toThrow(/append-only/);
    await expect(
      db.$transaction(async (tx) => {
        await tx.$queryRaw`SELECT set_config('clawgate.audit_purge_checkpoint', '999', true)`;
        await tx.auditLog.deleteMany({});
      }),
    ).rejects.toThrow(/append-only/);
  });

  it("keeps audit rows without a signing key, and says so", async () => {
    const later = new Date(Date.now() + 500 * DAY);
    const before = await db.auditLog.count();
    const r = await purgeRetention(db, { actor, now: later, dryRun: false });
    expect(r.counts.AuditLog).toBe(0);
    expect(r.auditSkipped).toMatch(/CLAWGATE_AUDIT_SIGNING_KEY/);
    expect(await db.auditLog.count()).toBe(before + 1); // the run's own entry
  });

  it("purges the oldest rows with a signed checkpoint; the chain verifies from it and goes on", async () => {
    for (let i = 0; i < 5; i++)
      await db.$transaction((tx) =>
        appendAudit(tx, { actor, action: "flag.update", targetType: "flag", targetId: `${i}` }),
      );
    const before = await db.auditLog.findMany({ orderBy: { id: "asc" }, select: { id: true } });
    expect(await verifyAudit(db, { signingKey: KEY })).toMatchObject({ ok: true, checkpoint: null });
    const later = new Date(Date.now() + 500 * DAY);
    const r = await purgeRetention(db, { actor, now: later, signingKey: KEY, batchSize: 3 });
    // All but the newest (the next entry links to it), in batches of 3.
    expect(r.counts.AuditLog).toBe(before.length - 1);
    expect(await db.auditCheckpoint.count()).toBe(Math.ceil((before.length - 1) / 3));
    const left = await db.auditLog.findMany({ orderBy: { id: "asc" } });
    expect(left.map((x) => x.id)).toEqual([before.at(-1)!.id, left.at(-1)!.id]);
    expect(left.at(-1)!.action).toBe("retention.purge");
    const v = await verifyAudit(db, { signingKey: KEY });
    expect(v).toMatchObject({ ok: true, rows: 2 });
    expect(await verifyAuditChain(db)).toBeNull();
    await db.$transaction((tx) => appendAudit(tx, { actor, action: "flag.update", targetType: "flag" }));
    expect(await verifyAudit(db, { signingKey: KEY })).toMatchObject({ ok: true, rows: 3 });
    // Without the key the checkpoints cannot be trusted.
    expect(await verifyAudit(db, {})).toMatchObject({ ok: false, broken: { kind: "checkpoint", why: "no_key" } });
  });

  it("names a row edited behind the trigger's back", async () => {
    // The entry appended after the purge (the newest flag.update).
    const target = await db.auditLog.findFirstOrThrow({ where: { action: "flag.update" }, orderBy: { id: "desc" } });
    await db.$executeRawUnsafe(`ALTER TABLE "AuditLog" DISABLE TRIGGER "AuditLog_append_only"`);
    await db.auditLog.update({ where: { id: target.id }, data: { actorName: "mallory" } });
    const v = await verifyAudit(db, { signingKey: KEY });
    await db.auditLog.update({ where: { id: target.id }, data: { actorName: actor.name } });
    await db.$executeRawUnsafe(`ALTER TABLE "AuditLog" ENABLE TRIGGER "AuditLog_append_only"`);
    expect(v).toMatchObject({ ok: false, broken: { kind: "row", id: target.id, action: "flag.update", why: "hash" } });
    expect(await verifyAudit(db, { signingKey: KEY })).toMatchObject({ ok: true });
  });

  it("names a forged checkpoint (one that would hide deleted rows)", async () => {
    const newest = await db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } });
    const forged = await db.auditCheckpoint.create({
      data: {
        lastId: newest.id,
        lastHash: newest.hash,
        lastAt: newest.at,
        purged: 1,
        signature: signCheckpoint("not-the-key".repeat(4), {
          lastId: newest.id,
          lastHash: newest.hash,
          lastAt: newest.at,
        }),
      },
    });
    expect(await verifyAudit(db, { signingKey: KEY })).toMatchObject({
      ok: false,
      broken: { kind: "checkpoint", id: forged.id, why: "signature" },
    });
  });
});
