/**
 * `npm test`: every test in the repo, against a real PostgreSQL, in one command.
 *
 * 1. A database server: the one in DATABASE_URL when given, else an embedded PostgreSQL
 *    under .data/test-pg (no setup needed on a fresh machine).
 * 2. A fresh database for this run with the committed migrations applied.
 * 3. `prettier --check .`, then `turbo run lint typecheck test` (unit + integration tests of every workspace), then the
 *    Playwright suite in e2e/ (Debian's Chromium; CHROMIUM_PATH overrides).
 * 4. Drops the run's database and prints one line: "N passed, N failed".
 *
 * Flags: --no-e2e, --only-e2e, --keep-db; other arguments go to `playwright test` (spec files).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { startEmbeddedPostgres, type EmbeddedPg } from "./embedded-pg.ts";
import { ensureDatabase } from "./pg-admin.ts";
import { DATA_DIR, REPO_ROOT } from "./paths.ts";
import { PORTS } from "./ports.ts";
import { countResults } from "./test-report.ts";
import { createTestDatabase } from "./testdb.ts";

const args = new Set(process.argv.slice(2).filter((a) => a.startsWith("--")));
/** Anything else is handed to Playwright: spec files or a `-g` pattern's value (`npm test -- --only-e2e e2e/x.spec.ts`). */
const playwrightArgs = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const REPORT_DIR = path.join(DATA_DIR, "test-reports");

function run(cmd: string, argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: REPO_ROOT, env, stdio: "inherit" });
    child.on("close", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child.on("error", () => resolve(127));
  });
}

async function main(): Promise<number> {
  let embedded: EmbeddedPg | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    console.log(`[test] DATABASE_URL not set: starting embedded PostgreSQL on 127.0.0.1:${PORTS.embeddedPgTest}`);
    embedded = await startEmbeddedPostgres({ dataDir: path.join(DATA_DIR, "test-pg"), port: PORTS.embeddedPgTest });
    serverUrl = embedded.serverUrl;
  } else {
    // Make sure the server's default database exists and answers before anything else.
    await ensureDatabase(serverUrl, new URL(serverUrl).pathname.slice(1) || "postgres").catch((error: unknown) => {
      throw new Error(`cannot reach the PostgreSQL server in DATABASE_URL: ${(error as Error).message}`);
    });
  }

  const db = await createTestDatabase({ serverUrl, prefix: `clawgate_run_${randomBytes(2).toString("hex")}` });
  console.log(`[test] fresh database ${db.name} (migrated)`);
  await rm(REPORT_DIR, { recursive: true, force: true });
  await mkdir(REPORT_DIR, { recursive: true });

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: db.url,
    CLAWGATE_TEST_REPORT_DIR: REPORT_DIR,
    NEXT_TELEMETRY_DISABLED: "1",
    TURBO_TELEMETRY_DISABLED: "1",
    CHROMIUM_PATH: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  };
  const results: Record<string, number> = {};
  try {
    if (!args.has("--only-e2e")) {
      // Formatting is a check, not advice: code prettier would change fails the run.
      results.format = await run("npx", ["prettier", "--check", "--log-level", "warn", "."], env);
      results.workspaces = await run("npx", ["turbo", "run", "lint", "typecheck", "test", "--concurrency=2"], env);
    }
    if (!args.has("--no-e2e")) {
      results.e2e = await run("npx", ["playwright", "test", ...playwrightArgs], env);
    }
  } finally {
    if (!args.has("--keep-db")) await db.drop().catch(() => {});
    else console.log(`[test] kept database: ${db.url}`);
    await embedded?.stop();
  }

  const failedSteps = Object.entries(results).filter(([, code]) => code !== 0);
  const counts = await countResults(REPORT_DIR);
  for (const [step, code] of Object.entries(results))
    console.log(`[test] ${step}: ${code === 0 ? "ok" : `FAILED (exit ${code})`}`);
  // A failed step with no failed test (a lint or type error, a crash) still counts as a failure.
  const failed = counts.failed + (counts.failed === 0 ? failedSteps.length : 0);
  if (counts.failures.length > 0) console.log(`\nFailed:\n${counts.failures.map((f) => `  ✗ ${f}`).join("\n")}`);
  console.log(`\n${counts.passed} passed, ${failed} failed${counts.skipped ? `, ${counts.skipped} skipped` : ""}`);
  return failed === 0 && failedSteps.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[test] ${(error as Error).message}`);
    process.exit(1);
  },
);
