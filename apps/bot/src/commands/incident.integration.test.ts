/** `clawgate break-glass` and `clawgate incident list|report|review` as child processes against real PostgreSQL. */
import { describe, expect, it } from "vitest";
import { cliEnv, query, runCli } from "../../test/helpers.ts";
import { useBotHarness } from "../../test/harness.ts";

const h = useBotHarness({ name: "incident_cli" });
const env = (extra: Record<string, string> = {}) =>
  cliEnv({ DATABASE_URL: h.testDb.url, CLAWGATE_CONSOLE_URL: "https://console.example", ...extra });
const count = async (table: string) =>
  Number((await query<{ n: string }>(h.testDb.url, `SELECT count(*) AS n FROM "${table}"`))[0]!.n);

describe("clawgate break-glass and incident", () => {
  it("refuses an unknown user, a bad TTL and no console URL with exit 2, writing nothing", async () => {
    await query(
      h.testDb.url,
      `INSERT INTO "User" (id, email, role, "updatedAt") VALUES ('u-ops', 'ops@example.com', 'OPERATOR', now())`,
    );
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [["--email", "nobody@example.com", "--reason", "idp down"], {}, /No console user nobody@example.com/],
      [["--email", "ops@example.com", "--ttl", "5h", "--reason", "idp down"], {}, /between 30s and 4h/],
      [["--email", "ops@example.com", "--reason", "idp down"], { CLAWGATE_CONSOLE_URL: "" }, /CLAWGATE_CONSOLE_URL/],
    ];
    for (const [args, extra, message] of cases) {
      const run = await runCli(["break-glass", ...args], env(extra));
      expect(run.stderr, args.join(" ")).toMatch(message);
      expect(run.code).toBe(2);
    }
    expect(await count("BreakGlassGrant")).toBe(0);
    expect(await count("Incident")).toBe(0);
  }, 300_000);

  it("prints a one-time link; the incident is listed, reported in md and json, and reviewed once it ended", async () => {
    const run = await runCli(
      ["break-glass", "--email", "ops@example.com", "--ttl", "30s", "--reason", "IdP down"],
      env(),
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const link = /https:\/\/console\.example\/break-glass\/([\w-]{43})/.exec(run.stdout);
    expect(link).not.toBeNull();
    const [grant] = await query<{ tokenHash: string; incidentId: string }>(
      h.testDb.url,
      `SELECT "tokenHash", "incidentId" FROM "BreakGlassGrant"`,
    );
    expect(grant!.tokenHash).not.toContain(link![1]);
    const id = grant!.incidentId;

    const list = await runCli(["incident", "list"], env());
    expect(list.stdout).toContain(`${id}  Open`);
    // The title is free text: the email in it is masked as written.
    expect(list.stdout).toContain("break_glass: Break-glass sign-in for [email]: IdP down");

    const review = await runCli(["incident", "review", id, "--text", "learned"], env());
    expect(review.code).toBe(2);
    expect(review.stderr).toContain("still open");

    // The grant ends at its TTL: move it into the past rather than wait.
    await query(h.testDb.url, `UPDATE "IncidentTrigger" SET "endedAt" = now() - interval '1 second'`);
    const md = await runCli(["incident", "report", id, "--format", "md"], env());
    expect(md.code).toBe(0);
    expect(md.stdout).toContain(`# Incident ${id}`);
    expect(md.stdout).toContain("Needs review");
    expect(md.stdout).toMatch(/\| trigger \| clawgate break-glass \(/);
    const json = await runCli(["incident", "report", id, "--format", "json"], env());
    const report = JSON.parse(json.stdout) as { incident: { status: string }; entries: Array<{ kind: string }> };
    expect(report.incident.status).toBe("NEEDS_REVIEW");
    expect(report.entries.map((e) => e.kind)).toContain("audit");

    const ok = await runCli(["incident", "review", id, "--text", "IdP certificate expired; renew alerts added"], env());
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toContain("reviewed");
    const [row] = await query<{ status: string; reviewedBy: string }>(
      h.testDb.url,
      `SELECT status, "reviewedBy" FROM "Incident"`,
    );
    expect(row).toMatchObject({ status: "REVIEWED" });
    expect(row!.reviewedBy).toMatch(/^clawgate incident review \(/);
  }, 600_000);
});
