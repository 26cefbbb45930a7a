/** `clawgate retention run` and `clawgate audit verify` as child processes against real PostgreSQL. */
import { auditHash, signCheckpoint } from "@clawgate/core";
import { describe, expect, it } from "vitest";
import { cliEnv, runCli } from "../../test/helpers.ts";
import { useBotHarness } from "../../test/harness.ts";

const h = useBotHarness({ name: "auditcli" });
const KEY = "cli-test-audit-signing-key-0123456789";
const env = (key: string | null = KEY) =>
  cliEnv({ DATABASE_URL: h.testDb.url, ...(key === null ? {} : { CLAWGATE_AUDIT_SIGNING_KEY: key }) });

/** An audit row as appendAudit writes it, but at a time in the past (rows cannot be back-dated after). */
async function appendAt(at: Date, action: string) {
  const last = await h.db.auditLog.findFirst({ orderBy: { id: "desc" }, select: { hash: true } });
  const fields = {
    at,
    actorType: "CLI" as const,
    actorId: null,
    actorName: "test",
    action,
    targetType: "test",
    targetId: null,
    diff: null,
    traceId: null,
    configRevision: null,
    prevHash: last?.hash ?? null,
  };
  const { diff: _diff, ...data } = fields;
  return h.db.auditLog.create({ data: { ...data, hash: auditHash(fields) } });
}

describe("clawgate audit verify and retention run", () => {
  it("verifies, purges old audit rows (dry run first) behind a signed checkpoint, and verifies again", async () => {
    const old = new Date(Date.now() - 500 * 86_400_000);
    for (let i = 0; i < 4; i++) await appendAt(new Date(old.getTime() + i * 1000), "test.old");
    await appendAt(new Date(), "test.new");
    const ok = await runCli(["audit", "verify"], env());
    expect(ok.stdout).toMatch(/^OK: 5 audit rows verified from the first row\./);
    expect(ok.code).toBe(0);

    const dry = await runCli(["retention", "run", "--dry-run"], env());
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(
      "Retention: messages 90 d, memory 90 d, invocations 180 d, outbound 90 d, audit 400 d",
    );
    expect(dry.stdout).toContain("Would delete (dry run, nothing deleted):");
    expect(dry.stdout).toMatch(/AuditLog\s+4/);
    expect(await h.db.auditLog.count()).toBe(5);

    const run = await runCli(["retention", "run"], env());
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Deleted:[\s\S]*AuditLog\s+4/);
    expect((await h.db.auditLog.findMany({ orderBy: { id: "asc" } })).map((r) => r.action)).toEqual([
      "test.new",
      "retention.purge",
    ]);
    const after = await runCli(["audit", "verify"], env());
    expect(after.code).toBe(0);
    expect(after.stdout).toMatch(
      /^OK: 2 audit rows verified from checkpoint \d+ \(rows up to \d+ purged .*; signature valid\)\./,
    );
  });

  it("refuses a short key, and names a checkpoint it cannot check or that is forged (exit 1)", async () => {
    const bad = await runCli(["retention", "run"], env("short"));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/CLAWGATE_AUDIT_SIGNING_KEY: must be at least 32 characters/);

    const noKey = await runCli(["audit", "verify"], env(null));
    expect(noKey.code).toBe(1);
    expect(noKey.stdout).toMatch(/^BROKEN: audit checkpoint \d+ .*CLAWGATE_AUDIT_SIGNING_KEY is not set/);

    const first = await h.db.auditLog.findFirstOrThrow({ orderBy: { id: "asc" } });
    const c = { lastId: first.id, lastHash: "0".repeat(64), lastAt: first.at };
    const forged = await h.db.auditCheckpoint.create({
      data: { ...c, purged: 0, signature: signCheckpoint("another-key-another-key-another-key", c) },
    });
    const run = await runCli(["audit", "verify"], env());
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `BROKEN: audit checkpoint ${forged.id} (rows up to ${first.id}): its signature does not match`,
    );
    // Put back as it was for the next test (the checkpoint table is append-only too).
    await h.db.$executeRawUnsafe(`ALTER TABLE "AuditCheckpoint" DISABLE TRIGGER "AuditCheckpoint_append_only"`);
    await h.db.auditCheckpoint.delete({ where: { id: forged.id } });
    await h.db.$executeRawUnsafe(`ALTER TABLE "AuditCheckpoint" ENABLE TRIGGER "AuditCheckpoint_append_only"`);
  });

  it("names the first row edited behind the trigger's back: its id, time and action", async () => {
    const target = await h.db.auditLog.findFirstOrThrow({ where: { action: "test.new" } });
    await h.db.$executeRawUnsafe(`ALTER TABLE "AuditLog" DISABLE TRIGGER "AuditLog_append_only"`);
    await h.db.auditLog.update({ where: { id: target.id }, data: { actorName: "mallory" } });
    await h.db.$executeRawUnsafe(`ALTER TABLE "AuditLog" ENABLE TRIGGER "AuditLog_append_only"`);
    const run = await runCli(["audit", "verify"], env());
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `BROKEN: audit row ${target.id} at ${target.at.toISOString()} (test.new): its content does not match its hash.`,
    );
  });
});
