/** `clawgate user add` as a child process against real PostgreSQL: the first admin, and refusals. */
import { describe, expect, it } from "vitest";
import { cliEnv, query, runCli } from "../../test/helpers.ts";
import { useBotHarness } from "../../test/harness.ts";

const h = useBotHarness({ name: "user" });

/** The CLI's environment: the test database. */
const cliEnvFor = () => cliEnv({ DATABASE_URL: h.testDb.url });

const users = () =>
  query<{ email: string; role: string; name: string | null }>(
    h.testDb.url,
    `SELECT email, role, name FROM "User" ORDER BY email`,
  );
const audit = () =>
  query<{ action: string; actorType: string; actorName: string; targetType: string; diff: unknown }>(
    h.testDb.url,
    `SELECT action, "actorType", "actorName", "targetType", diff FROM "AuditLog" ORDER BY id`,
  );

describe("clawgate user add", () => {
  it("refuses bad arguments with exit 2 and writes nothing", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["user", "add", "--role", "ADMIN"], /--email: email is required/],
      [["user", "add", "--email", "not-an-email", "--role", "ADMIN"], /--email: email must be an email address/],
      [["user", "add", "--email", "ada@example.com"], /--role: role must be ADMIN, APPROVER, OPERATOR or VIEWER/],
      [["user", "add", "--email", "ada@example.com", "--role", "root"], /--role: role must be/],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(args, cliEnvFor());
      expect(run.code, args.join(" ")).toBe(2);
      expect(run.stderr).toMatch(message);
    }
    expect(await users()).toEqual([]);
    expect(await audit()).toEqual([]);
  });

  it("adds the first admin, audited as the CLI; an existing email is refused unless --update-role", async () => {
    const add = await runCli(
      ["user", "add", "--email", "Ada@Example.com", "--role", "admin", "--name", "Ada"],
      cliEnvFor(),
    );
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    expect(add.stdout).toContain("Added ada@example.com as ADMIN");
    expect(await users()).toEqual([{ email: "ada@example.com", role: "ADMIN", name: "Ada" }]);
    const [entry] = await audit();
    expect(entry).toMatchObject({
      action: "user.add",
      actorType: "CLI",
      targetType: "user",
      // The email is personal data: masked in the diff (the target id names the user).
      diff: { email: { from: null, to: "[email]" }, role: { from: null, to: "ADMIN" } },
    });
    expect(entry!.actorName).toMatch(/^clawgate user add \(.+@.+\)$/);
    // Users are not policy: no config revision.
    expect(await query(h.testDb.url, `SELECT id FROM "ConfigRevision"`)).toEqual([]);

    const again = await runCli(["user", "add", "--email", "ada@example.com", "--role", "VIEWER"], cliEnvFor());
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(
      "clawgate user add: ada@example.com is already a user (ADMIN): nothing added. Add --update-role to give them this role instead.",
    );
    // The last admin cannot be demoted, even from the CLI.
    const demote = await runCli(
      ["user", "add", "--email", "ada@example.com", "--role", "VIEWER", "--update-role"],
      cliEnvFor(),
    );
    expect(demote.code).toBe(2);
    expect(demote.stderr).toContain("last active admin");

    await runCli(["user", "add", "--email", "vic@example.com", "--role", "VIEWER"], cliEnvFor());
    const promote = await runCli(
      ["user", "add", "--email", "vic@example.com", "--role", "APPROVER", "--update-role"],
      cliEnvFor(),
    );
    expect(promote.code).toBe(0);
    expect(promote.stdout).toContain("Updated vic@example.com: role VIEWER -> APPROVER.");
    expect((await audit()).map((a) => a.action)).toEqual(["user.add", "user.add", "user.role"]);
  });
});
