/**
 * `/ready`: the database answers now, and every committed migration is applied. The migration
 * result is cached once complete (migrations are not un-applied under a running process);
 * the database is asked on every call. Extra checks (queue running, Stream connected) are
 * answered from the process's memory.
 */
import type { Db } from "@clawgate/db";
import { checkDatabase, checkMigrations, type CheckResult } from "./db-checks.ts";

export interface Readiness {
  ready: boolean;
  checks: { database: CheckResult; migrations: CheckResult } & Record<string, CheckResult>;
}

export type ExtraChecks = Record<string, () => CheckResult>;

export function createReadiness(db: Db, timeoutMs = 1_000, extra: ExtraChecks = {}): () => Promise<Readiness> {
  let migrationsDone = false;
  return async () => {
    const database = await checkDatabase(db, timeoutMs);
    let migrations: CheckResult;
    if (migrationsDone) migrations = { ok: true };
    else if (!database.ok) migrations = { ok: false, error: "not checked: database unreachable" };
    else {
      migrations = await checkMigrations(db, timeoutMs);
      migrationsDone = migrations.ok;
    }
    const more = Object.fromEntries(Object.entries(extra).map(([name, check]) => [name, check()]));
    const ready = database.ok && migrations.ok && Object.values(more).every((c) => c.ok);
    return { ready, checks: { database, migrations, ...more } };
  };
}
