/**
 * `clawgate onboard` as a child process against real PostgreSQL, with the shipped example.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cliEnv, query, runCli } from "../../test/helpers.ts";
import { useBotHarness } from "../../test/harness.ts";

const EXAMPLE = path.resolve(import.meta.dirname, "../../examples/clawgate.yaml");

const h = useBotHarness({ name: "onboard" });

const count = async (table: string) =>
  Number((await query<{ n: string }>(h.testDb.url, `SELECT count(*) AS n FROM "${table}"`))[0]!.n);

describe("clawgate onboard", () => {
  it("--dry-run prints the plan and writes nothing", async () => {
    const run = await runCli(
      ["onboard", "--channel", "dingtalk", "--config", EXAMPLE, "--dry-run"],
      cliEnv({ DATABASE_URL: h.testDb.url }),
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Dry run: ");
    expect(run.stdout).toContain("create model local_chat");
    expect(run.stdout).toContain("Note: models.local_chat reads its key from LOCAL_MODEL_API_KEY");
    expect(await count("ModelEndpoint")).toBe(0);
    expect(await count("ConfigRevision")).toBe(0);
  });

  it("applies the example in one revision, then finds nothing to change", async () => {
    const env = cliEnv({ DATABASE_URL: h.testDb.url, LOCAL_MODEL_API_KEY: "sk-never-printed" });
    const first = await runCli(["onboard", "--channel", "dingtalk", "--config", EXAMPLE], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Applied \d+ change\(s\) in config revision 1:/);
    expect(first.stdout).not.toContain("Note:");
    const audit = await query<{ actorName: string; diff: unknown }>(
      h.testDb.url,
      `SELECT "actorName", diff FROM "AuditLog"`,
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actorName).toBe("clawgate onboard");
    expect(JSON.stringify(audit[0]!.diff)).not.toContain("sk-never-printed");

    const second = await runCli(["onboard", "--channel", "dingtalk", "--config", EXAMPLE], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("Nothing to change");
    expect(await count("ConfigRevision")).toBe(1);
  });

  it("an invalid file prints one line per problem and writes nothing", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "clawgate-onboard-"));
    const bad = path.join(dir, "bad.yaml");
    writeFileSync(
      bad,
      "models:\n  local_chat:\n    base_url: nope\n    api_key: sk-literal-key\n    model: m\nconversations:\n  - { id: x, environment: staging, enabled: true }\n",
    );
    const run = await runCli(
      ["onboard", "--channel", "dingtalk", "--config", bad],
      cliEnv({ DATABASE_URL: h.testDb.url }),
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("was not applied (nothing written)");
    expect(run.stderr).toContain("  models.local_chat.base_url: must be an http(s) URL");
    expect(run.stderr).toContain("  models.local_chat.api_key: a literal API key is not allowed");
    expect(run.stderr).toContain('  conversations[0].environment: must be one of "test", "prod"');
    expect(run.stderr).not.toContain("sk-literal-key");
    expect(await count("ConfigRevision")).toBe(1);
  });

  it("refuses a key naming one of the runtime's own settings: one line, nothing written", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "clawgate-onboard-"));
    const bad = path.join(dir, "exfil.yaml");
    writeFileSync(
      bad,
      "models:\n  exfil:\n    base_url: http://127.0.0.1:9/v1\n    api_key: ${DATABASE_URL}\n    model: m\n",
    );
    const before = await count("ConfigRevision");
    const run = await runCli(
      ["onboard", "--channel", "dingtalk", "--config", bad],
      cliEnv({ DATABASE_URL: h.testDb.url }),
    );
    expect(run.code).toBe(2);
    expect(run.stderr.split("\n").filter((l) => l.startsWith("  "))).toEqual([
      expect.stringMatching(/^ {2}models\.exfil\.api_key: DATABASE_URL is one of Clawgate's own settings/),
    ]);
    expect(run.stderr).not.toContain(h.testDb.url);
    expect(await count("ConfigRevision")).toBe(before);
    expect(await count("ModelEndpoint")).toBe(1);
  });

  it("export writes the live configuration; onboard --dry-run of it plans no change", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "clawgate-export-"));
    const file = path.join(dir, "live.yaml");
    const env = cliEnv({ DATABASE_URL: h.testDb.url });
    const exported = await runCli(["export", "--config", file], env);
    expect(exported.stderr).toBe("");
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain(`Wrote the live configuration to ${file}.`);
    const text = readFileSync(file, "utf8");
    expect(text).toContain("api_key: ${LOCAL_MODEL_API_KEY}");
    expect(text).toMatch(/^flags:$/m);
    const plan = await runCli(["onboard", "--channel", "dingtalk", "--config", file, "--dry-run"], env);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain("Nothing to change");
  });

  it("refuses an unknown channel and a missing file", async () => {
    const env = cliEnv({ DATABASE_URL: h.testDb.url });
    const channel = await runCli(["onboard", "--channel", "slack", "--config", EXAMPLE], env);
    expect(channel.code).toBe(2);
    expect(channel.stderr).toContain("--channel must be one of dingtalk");
    const missing = await runCli(["onboard", "--channel", "dingtalk", "--config", "/nonexistent.yaml"], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read /nonexistent.yaml: ENOENT");
  });
});
