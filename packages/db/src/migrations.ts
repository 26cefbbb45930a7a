/**
 * Committed migrations: where they are, whether a database has them all, and how to apply
 * them (Prisma's own `migrate deploy`, through the wasm engine config in prisma.config.ts).
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import pg from "pg";

const repoRoot = path.resolve(import.meta.dirname, "../../..");
export const MIGRATIONS_DIR = path.join(repoRoot, "prisma/migrations");
export const PRISMA_CONFIG = path.resolve(import.meta.dirname, "../prisma.config.ts");

/** Names of the committed migrations, oldest first. */
export function committedMigrations(dir = MIGRATIONS_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
  failed: string[];
}

/** Compares the committed migrations with `_prisma_migrations` in the database. */
export async function migrationStatus(query: (sql: string) => Promise<{ rows: unknown[] }>): Promise<MigrationStatus> {
  const committed = committedMigrations();
  let rows: { migration_name: string; finished_at: Date | null; rolled_back_at: Date | null }[] = [];
  try {
    rows = (await query(`SELECT migration_name, finished_at, rolled_back_at FROM _prisma_migrations`))
      .rows as typeof rows;
  } catch (error) {
    // 42P01: the table does not exist yet, so nothing is applied.
    if ((error as { code?: string }).code !== "42P01") throw error;
  }
  const finished = new Set(rows.filter((r) => r.finished_at && !r.rolled_back_at).map((r) => r.migration_name));
  const failed = rows.filter((r) => !r.finished_at && !r.rolled_back_at).map((r) => r.migration_name);
  return {
    applied: committed.filter((m) => finished.has(m)),
    pending: committed.filter((m) => !finished.has(m)),
    failed,
  };
}

export async function migrationStatusFor(url: string): Promise<MigrationStatus> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await migrationStatus((sql) => client.query(sql));
  } finally {
    await client.end();
  }
}

/** Runs `prisma migrate deploy`; resolves with its output, rejects with it on failure. */
export function deployMigrations(url: string): Promise<string> {
  const prismaCli = createRequire(import.meta.url).resolve("prisma/build/index.js");
  return new Promise((resolve, reject) => {
    const preload = path.join(import.meta.dirname, "unref-long-timers.mjs");
    const argv = ["--import", preload, prismaCli, "migrate", "deploy", "--config", PRISMA_CONFIG];
    const child = spawn(process.execPath, argv, {
      cwd: repoRoot,
      // Only what the Prisma CLI needs: nothing of this process's env (its secrets) is passed on.
      env: { NODE_ENV: "production", DATABASE_URL: url, PRISMA_HIDE_UPDATE_MESSAGE: "1", CHECKPOINT_DISABLE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`prisma migrate deploy failed (exit ${code}):\n${out}`));
    });
  });
}
