/**
 * `clawgate migrate`: applies the committed migrations (`prisma migrate deploy`), then brings the
 * catalog in line with the code (bootstrap: built-in skills, default flags; audited, one config
 * revision only when something changed).
 */
import { createDb } from "@clawgate/db";
import { deployMigrations, migrationStatusFor } from "@clawgate/db/migrations";
import { describeDbError } from "../db-checks.ts";
import { envOrExit } from "./env-or-exit.ts";

export async function migrate(): Promise<number> {
  const { DATABASE_URL } = envOrExit(["DATABASE_URL"]);
  try {
    const before = await migrationStatusFor(DATABASE_URL);
    if (before.pending.length === 0 && before.failed.length === 0) {
      console.log(`Database is already up to date (${before.applied.length} migrations applied).`);
      return await bootstrap(DATABASE_URL);
    }
    try {
      await deployMigrations(DATABASE_URL);
    } catch (error) {
      // Prisma's own output says which migration failed and why.
      console.error((error as Error).message);
      return 1;
    }
    const after = await migrationStatusFor(DATABASE_URL);
    const applied = before.pending.filter((m) => after.applied.includes(m));
    console.log(`Applied ${applied.length} migration(s):`);
    for (const m of applied) console.log(`  - ${m}`);
    if (after.pending.length > 0) {
      console.error(`Still pending: ${after.pending.join(", ")}`);
      return 1;
    }
    return await bootstrap(DATABASE_URL);
  } catch (error) {
    console.error(`clawgate migrate failed: ${describeDbError(error)}`);
    return 1;
  }
}

async function bootstrap(url: string): Promise<number> {
  // Loaded on demand: the other commands do not pay for the domain package.
  const { bootstrapCatalog, describeBootstrap } = await import("@clawgate/core");
  const db = createDb(url, { applicationName: "clawgate-cli", max: 2 });
  try {
    const { changes, configRevision } = await bootstrapCatalog(db);
    if (configRevision === null) console.log("Catalog already in line with the code: nothing to change.");
    else {
      console.log(`Bootstrap: ${changes.length} change(s) in config revision ${configRevision}:`);
      for (const line of describeBootstrap(changes)) console.log(`  ${line}`);
    }
    return 0;
  } finally {
    await db.$disconnect();
  }
}
