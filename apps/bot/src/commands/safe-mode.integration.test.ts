/**
 * `clawgate safe-mode` as a child process against real PostgreSQL: the console is not involved
 * (it is "down"); the CLI writes the state, the history, the audit entry and a config revision.
 */
import { describe, expect, it } from "vitest";
import { cliEnv, query, runCli } from "../../test/helpers.ts";
import { useBotHarness } from "../../test/harness.ts";

const h = useBotHarness({ name: "safemode" });

/** The CLI's environment: the test database. */
const cliEnvFor = () => cliEnv({ DATABASE_URL: h.testDb.url });

const count = async (table: string) =>
  Number((await query<{ n: string }>(h.testDb.url, `SELECT count(*) AS n FROM "${table}"`))[0]!.n);
const state = async () =>
  (
    await query<{ active: boolean; level: string; message: string | null; currentEventId: string | null }>(
      h.testDb.url,
      `SELECT active, level, message, "currentEventId" FROM "SafeModeState" WHERE id = 1`,
    )
  )[0];

describe("clawgate safe-mode", () => {
  it("refuses bad arguments with exit 2 and writes nothing", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["safe-mode", "on"], /--reason is required/],
      [["safe-mode", "on", "--reason", "  "], /--reason is required/],
      [["safe-mode", "sideways", "--reason", "x"], /expected on, off or status/],
      [["safe-mode", "on", "--reason", "x", "--ttl", "2 hours"], /--ttl "2 hours" is not a duration/],
      [["safe-mode", "on", "--reason", "x", "--level", "panic"], /--level must be read-only or maintenance/],
      [["safe-mode", "off", "--reason", "x", "--ttl", "1h"], /only apply to `safe-mode on`/],
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
    expect(await count("SafeModeEvent")).toBe(0);
    expect(await count("ConfigRevision")).toBe(0);
    expect(await count("AuditLog")).toBe(0);
  });

  it("on -> status -> off, audited as the CLI with a config revision each", async () => {
    const on = await runCli(
      ["safe-mode", "on", "--reason", "incident 7", "--ttl", "2h", "--level", "maintenance", "--message", "Back soon"],
      cliEnvFor(),
    );
    expect(on.stderr).toBe("");
    expect(on.code).toBe(0);
    expect(on.stdout).toMatch(/Safe mode is on: MAINTENANCE until \S+ \(config revision 1\)/);
    expect(await state()).toMatchObject({ active: true, level: "MAINTENANCE", message: "Back soon" });
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
    expect(status.stdout).toContain("Safe mode is ON: MAINTENANCE until");
    expect(status.stdout).toContain("incident 7");
    expect(status.stdout).toContain("message: Back soon");

    const off = await runCli(["safe-mode", "off", "--reason", "resolved"], cliEnvFor());
    expect(off.code).toBe(0);
    expect(off.stdout).toContain("Safe mode is off (config revision 2).");
    expect(await state()).toMatchObject({ active: false, currentEventId: null });
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
      { action: "safe_mode.on", actorType: "CLI", configRevision: 1 },
      { action: "safe_mode.off", actorType: "CLI", configRevision: 2 },
    ]);

    // Off while off: refused, exit 2, nothing written.
    const again = await runCli(["safe-mode", "off", "--reason", "twice"], cliEnvFor());
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("Safe mode is already off");
    expect(await count("ConfigRevision")).toBe(2);
    expect((await runCli(["safe-mode", "status"], cliEnvFor())).stdout).toContain("Safe mode is off.");
  });
});
