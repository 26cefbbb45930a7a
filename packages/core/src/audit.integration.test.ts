import { createDb, storableText, type Db } from "@clawgate/db";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostileText } from "@clawgate/devstack/hostile-text";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type { Actor } from "./actor.ts";
import { appendAudit, verifyAuditChain } from "./audit.ts";

const actor: Actor = { type: "USER", id: "u1", name: "Ada Admin", ip: "10.0.0.1" };
let tdb: TestDatabase;
let db: Db;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createDb(tdb.url, { max: 12 });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

describe("audit log", () => {
  it("links each row to the previous one and verifies", async () => {
    const a = await db.$transaction((tx) =>
      appendAudit(tx, {
        actor,
        action: "skill.update",
        targetType: "skill",
        targetId: "kb.search",
        diff: { enabled: { from: false, to: true } },
      }),
    );
    const b = await db.$transaction((tx) =>
      appendAudit(tx, { actor, action: "flag.update", targetType: "flag", targetId: "agent.tools" }),
    );
    const rowB = await db.auditLog.findUniqueOrThrow({ where: { id: b.id } });
    expect(rowB.prevHash).toBe(a.hash);
    expect(await verifyAuditChain(db)).toBeNull();
  });

  it("hashes what it stores: arbitrary Unicode (NUL, lone surrogates, ...) in any field keeps the chain verifiable", async () => {
    await fc.assert(
      fc.asyncProperty(hostileText(), hostileText(), async (a, b) => {
        const { id } = await db.$transaction((tx) =>
          appendAudit(tx, {
            actor: { type: "CLI", name: `op ${a}` },
            action: "config.onboard",
            targetType: "test",
            targetId: b,
            diff: { [a]: [b, { note: a }] },
          }),
        );
        const row = await db.auditLog.findUniqueOrThrow({ where: { id } });
        expect(row.targetId).toBe(storableText(b));
        expect(row.diff).toEqual({ [storableText(a)]: [storableText(b), { note: storableText(a) }] });
      }),
      { numRuns: 30 },
    );
    expect(await verifyAuditChain(db)).toBeNull();
  });

  it("never forks the chain under concurrent writers", async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        db.$transaction((tx) =>
          appendAudit(tx, { actor, action: "config.onboard", targetType: "test", targetId: String(i) }),
        ),
      ),
    );
    const rows = await db.auditLog.findMany({ orderBy: { id: "asc" } });
    const prevHashes = rows.map((r) => r.prevHash);
    expect(new Set(prevHashes).size).toBe(rows.length); // every row points at a different predecessor
    expect(await verifyAuditChain(db)).toBeNull();
  });

  it("is append-only: the database refuses UPDATE and DELETE", async () => {
    await expect(db.auditLog.updateMany({ data: { actorName: "mallory" } })).rejects.toThrow(/append-only/);
    await expect(db.auditLog.deleteMany({})).rejects.toThrow(/append-only/);
    await expect(db.$executeRawUnsafe(`TRUNCATE "AuditLog"`)).rejects.toThrow(/append-only/);
  });

  it("detects a row whose content no longer matches its hash", async () => {
    // Simulate tampering by someone who bypassed the trigger (e.g. a superuser disabling it).
    await db.$executeRawUnsafe(`ALTER TABLE "AuditLog" DISABLE TRIGGER "AuditLog_append_only"`);
    const target = await db.auditLog.findFirstOrThrow({ where: { action: "flag.update" } });
    await db.auditLog.update({ where: { id: target.id }, data: { actorName: "mallory" } });
    await db.$executeRawUnsafe(`ALTER TABLE "AuditLog" ENABLE TRIGGER "AuditLog_append_only"`);
    expect(await verifyAuditChain(db)).toBe(target.id);
  });
});
