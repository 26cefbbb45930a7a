import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type { Actor } from "../actor.ts";
import { appendAudit, type AuditEntry } from "../audit.ts";
import { auditTargetTypes, listAuditLog, verifyAuditLog } from "./audit-log.ts";

let tdb: TestDatabase;
let db: Db;
const ada: Actor = { type: "USER", id: "u-ada", name: "ada@example.test" };
const cli: Actor = { type: "CLI", name: "ops@host" };

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createDb(tdb.url, { max: 4 });
  const entries: AuditEntry[] = [
    {
      actor: ada,
      action: "skill.update",
      targetType: "skill",
      targetId: "kb.search",
      diff: { enabled: { from: false, to: true } },
    },
    { actor: cli, action: "safe_mode.on", targetType: "safe_mode", targetId: "1" },
    { actor: ada, action: "conversation.update", targetType: "conversation", targetId: "c1" },
    { actor: ada, action: "skill.rule.add", targetType: "skill", targetId: "ticket.create" },
    { actor: cli, action: "safe_mode.off", targetType: "safe_mode", targetId: "1" },
  ];
  for (const e of entries) await db.$transaction((tx) => appendAudit(tx, e));
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

describe("listAuditLog", () => {
  it("returns newest first and pages with a cursor until the end", async () => {
    const p1 = await listAuditLog(db, { limit: 2 });
    expect(p1.items.map((i) => i.action)).toEqual(["safe_mode.off", "skill.rule.add"]);
    expect(p1.nextCursor).toBe(p1.items[1]!.id);
    const p2 = await listAuditLog(db, { limit: 2, cursor: p1.nextCursor! });
    expect(p2.items.map((i) => i.action)).toEqual(["conversation.update", "safe_mode.on"]);
    const p3 = await listAuditLog(db, { limit: 2, cursor: p2.nextCursor! });
    expect(p3.items.map((i) => i.action)).toEqual(["skill.update"]);
    expect(p3.nextCursor).toBeNull();
    expect(p3.items[0]!.diff).toEqual({ enabled: { from: false, to: true } });
  });

  it("filters by action prefix, actor, target type and date range", async () => {
    expect((await listAuditLog(db, { actionPrefix: "skill." })).items.map((i) => i.action)).toEqual([
      "skill.rule.add",
      "skill.update",
    ]);
    expect((await listAuditLog(db, { actor: "OPS@" })).items.map((i) => i.action)).toEqual([
      "safe_mode.off",
      "safe_mode.on",
    ]);
    expect((await listAuditLog(db, { actor: "u-ada" })).items).toHaveLength(3);
    expect((await listAuditLog(db, { targetType: "conversation" })).items.map((i) => i.targetId)).toEqual(["c1"]);
    expect((await listAuditLog(db, { from: new Date(Date.now() + 60_000) })).items).toEqual([]);
    expect(
      (await listAuditLog(db, { to: new Date(Date.now() + 60_000), from: new Date(Date.now() - 600_000) })).items,
    ).toHaveLength(5);
  });

  it("refuses a bad cursor or an inverted date range", async () => {
    await expect(listAuditLog(db, { cursor: "1; DROP" })).rejects.toThrow(/cursor must be a row id/);
    await expect(listAuditLog(db, { from: new Date("2026-02-01"), to: new Date("2026-01-01") })).rejects.toThrow(
      /start date/,
    );
  });

  it("lists target types for the filter", async () => {
    expect(await auditTargetTypes(db)).toEqual(["conversation", "safe_mode", "skill"]);
  });
});

describe("verifyAuditLog", () => {
  it("reports an intact chain, then the first tampered row", async () => {
    expect(await verifyAuditLog(db)).toMatchObject({ ok: true, firstBadId: null, rows: 5 });
    await db.$executeRawUnsafe(`ALTER TABLE "AuditLog" DISABLE TRIGGER "AuditLog_append_only"`);
    const row = await db.auditLog.findFirstOrThrow({ where: { action: "conversation.update" } });
    await db.auditLog.update({ where: { id: row.id }, data: { actorName: "mallory" } });
    await db.$executeRawUnsafe(`ALTER TABLE "AuditLog" ENABLE TRIGGER "AuditLog_append_only"`);
    expect(await verifyAuditLog(db)).toMatchObject({ ok: false, firstBadId: row.id.toString() });
  });
});
