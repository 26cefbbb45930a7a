/**
 * `clawgate safe-mode` as a child process against real PostgreSQL: the console is not involved
 * (it is "down"); the CLI writes the state, the history, the audit entry and a config revision.
 */
import { describe, expect, it } from "vitest";
import { cliEnv, query, runCli as run } from "../../test/helpers.ts";
import { useBotHarness } from "../../test/harness.ts";

const h = useBotHarness({ name: "safemode" });

/** Each CLI run is a process: minutes on a busy machine, not the helper's default minute. */
const runCli = (args: string[], env: NodeJS.ProcessEnv) => run(args, env, 180_000);

/** The CLI's environment: the test database. */
const cliEnvFor = () => cliEnv({ DATABASE_URL: h.testDb.url });

const count = async (table: string) =>
  Number((await query<{ n: string }>(h.testDb.url, `SELECT count(*) AS n FROM "${table}"`))[0]!.n);
/** The activations in force (not ended). */
const live = () =>
  query<{ id: string; level: string; message: string | null; scopes: string[]; kind: string }>(
    h.testDb.url,
    `SELECT id, level, message, scopes, kind::text AS kind FROM "SafeModeEvent" WHERE "endedAt" IS NULL ORDER BY "startedAt"`,
  );

describe("clawgate safe-mode", () => {
  it("refuses bad arguments with exit 2 and writes nothing", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["safe-mode", "on"], /--reason is required/],
      [["safe-mode", "on", "--reason", "  "], /--reason is required/],
      [["safe-mode", "sideways", "--reason", "x"], /expected on, off or status/],
      [["safe-mode", "on", "--reason", "x", "--ttl", "2 hours"], /--ttl "2 hours" is not a duration/],
      [["safe-mode", "on", "--reason", "x", "--level", "panic"], /--level must be read-only or maintenance/],
      [["safe-mode", "off", "--reason", "x", "--ttl", "1h"], /only apply to `safe-mode on`/],
      [["kill-switch", "on"], /--reason is required/],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(args, cliEnvFor());
      expect(run.code, args.join(" ")).toBe(2);
      expect(run.stderr).toMatch(message);
    }
    // A TTL the core refuses (below a minute) is a refusal like bad arguments: exit 2 with its message.
    const short = await runCli(["safe-mode", "on", "--reason", "x", "--ttl", "30s"], cliEnvFor());
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/at least 1 minute/);
    // A scope naming nothing that exists: refused, exit 2, nothing written (the core test covers every kind).
    const bad = await runCli(["safe-mode", "on", "--reason", "x", "--scope", "conversation:cid-nowhere"], cliEnvFor());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/conversation:cid-nowhere: no such conversation/);
    expect(await count("SafeModeEvent")).toBe(0);
    expect(await count("ConfigRevision")).toBe(0);
    expect(await count("AuditLog")).toBe(0);
  }, 600_000);

  it("on -> status -> off, audited as the CLI with a config revision each", async () => {
    const on = await runCli(
      ["safe-mode", "on", "--reason", "incident 7", "--ttl", "2h", "--level", "maintenance", "--message", "Back soon"],
      cliEnvFor(),
    );
    expect(on.stderr).toBe("");
    expect(on.code).toBe(0);
    expect(on.stdout).toMatch(
      /Safe mode is on: MAINTENANCE on everything until \S+ \(activation \S+, config revision 1\)/,
    );
    expect(await live()).toMatchObject([{ level: "MAINTENANCE", message: "Back soon", scopes: [], kind: "SAFE_MODE" }]);
    const [event] = await query<{
      id: string;
      reason: string;
      actorType: string;
      actorName: string;
      expiresAt: Date;
      startedAt: Date;
    }>(h.testDb.url, `SELECT id, reason, "actorType", "actorName", "expiresAt", "startedAt" FROM "SafeModeEvent"`);
    expect(event).toMatchObject({ reason: "incident 7", actorType: "CLI" });
    expect(event!.actorName).toMatch(/^clawgate safe-mode \(.+@.+\)$/);
    expect(event!.expiresAt.getTime() - event!.startedAt.getTime()).toBe(2 * 3_600_000);

    const status = await runCli(["safe-mode", "status"], cliEnvFor());
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("Safe mode is ON: MAINTENANCE (1 activation(s) in force)");
    expect(status.stdout).toMatch(/MAINTENANCE on everything until/);
    expect(status.stdout).toContain("incident 7");
    expect(status.stdout).toContain("message: Back soon");

    const off = await runCli(["safe-mode", "off", "--reason", "resolved"], cliEnvFor());
    expect(off.code).toBe(0);
    expect(off.stdout).toContain("Safe mode is off (config revision 2).");
    expect(await live()).toEqual([]);
    const [closed] = await query<{ endedBy: string; endReason: string; endedAt: Date | null }>(
      h.testDb.url,
      `SELECT "endedBy", "endReason", "endedAt" FROM "SafeModeEvent"`,
    );
    expect(closed).toMatchObject({ endReason: "resolved" });
    expect(closed!.endedBy).toMatch(/^clawgate safe-mode/);
    expect(closed!.endedAt).not.toBeNull();

    const audit = await query<{ action: string; actorType: string; configRevision: number }>(
      h.testDb.url,
      `SELECT action, "actorType", "configRevision" FROM "AuditLog" ORDER BY id`,
    );
    expect(audit).toEqual([
      { action: "incident.open", actorType: "CLI", configRevision: null },
      { action: "safe_mode.on", actorType: "CLI", configRevision: 1 },
      { action: "safe_mode.off", actorType: "CLI", configRevision: 2 },
    ]);

    // Off while off: refused, exit 2, nothing written.
    const again = await runCli(["safe-mode", "off", "--reason", "twice"], cliEnvFor());
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("Safe mode is already off");
    expect(await count("ConfigRevision")).toBe(2);
    expect((await runCli(["safe-mode", "status"], cliEnvFor())).stdout).toContain("Safe mode is off.");
  }, 600_000);

  it("scoped activations side by side: on --scope (repeatable), off ID, off --all; the kill switch on and off", async () => {
    await h.db.conversation.create({ data: { conversationId: "cid-x", type: "GROUP", status: "ENABLED" } });
    const a = await runCli(
      ["safe-mode", "on", "--reason", "x floods", "--scope", "conversation:cid-x", "--level", "maintenance"],
      cliEnvFor(),
    );
    expect(a.stderr).toBe("");
    expect(a.stdout).toMatch(/MAINTENANCE on conversation:cid-x/);
    const b = await runCli(
      ["safe-mode", "on", "--reason", "writes", "--scope", "risk:WRITE", "--scope", "risk:DESTRUCTIVE", "--ttl", "1h"],
      cliEnvFor(),
    );
    expect(b.stdout).toMatch(/READ_ONLY on risk:DESTRUCTIVE, risk:WRITE until/);
    const [first, second] = await live();
    const status = await runCli(["safe-mode", "status"], cliEnvFor());
    expect(status.stdout).toContain("2 activation(s) in force");
    expect(status.stdout).toContain(first!.id);

    const ambiguous = await runCli(["safe-mode", "off", "--reason", "x"], cliEnvFor());
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/2 safe-mode activations are in force: name one/);
    const one = await runCli(["safe-mode", "off", first!.id, "--reason", "quiet"], cliEnvFor());
    expect(one.code).toBe(0);
    expect((await live()).map((e) => e.id)).toEqual([second!.id]);
    expect((await runCli(["safe-mode", "off", "--all", "--reason", "done"], cliEnvFor())).code).toBe(0);
    expect(await live()).toEqual([]);

    const kill = await runCli(["kill-switch", "on", "--reason", "runaway"], cliEnvFor());
    expect(kill.stdout).toContain("Kill switch is on");
    expect(await live()).toMatchObject([{ kind: "KILL_SWITCH" }]);
    expect((await runCli(["safe-mode", "status"], cliEnvFor())).stdout).toMatch(/Kill switch is ON since/);
    const twice = await runCli(["kill-switch", "on", "--reason", "again"], cliEnvFor());
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain("already on");
    expect((await runCli(["kill-switch", "off", "--reason", "ok"], cliEnvFor())).stdout).toContain(
      "skills are back as they were",
    );
    expect(await live()).toEqual([]);
  }, 600_000);
});
